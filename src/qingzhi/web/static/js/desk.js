/* The incident desk: the one-click query, facets, results and map in step, exports; call taking
 * (F2), each row's next steps in its menu, waiting timers on undispatched calls, and live
 * updates of the rows from the stream. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var root = document.getElementById("desk");
  var form = document.getElementById("filters");
  var tbody = document.querySelector("#results tbody");
  var more = document.getElementById("more");
  var base = QZ.baseMap(document.getElementById("map"));
  var map = base.map;
  var layer = QZ.incidentLayer(map, { onClick: select });
  var unitNames = JSON.parse(root.getAttribute("data-units") || "{}");
  var canWrite = !!root.getAttribute("data-can-write");
  var cursor = null;
  var liveAdded = 0;  // rows the stream added since the query ran
  var items = {};  // id -> the row's incident (API shape, kept current from the stream)
  function $(x) { return document.getElementById(x); }
  QZ.ops.muteButton($("mute"));
  window.__qzDesk = { items: items };

  function params() {
    var p = new URLSearchParams();
    var fd = new FormData(form);
    fd.forEach(function (v, k) {
      if (v === "" || k === "in_view") return;
      if (k === "start" || k === "end") v = v.length === 16 ? v + ":00" : v;  // Beijing time
      p.append(k, v);
    });
    if (fd.get("in_view")) {
      var b = map.getBounds();
      p.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) { return x.toFixed(5); }).join(","));
    }
    return p;
  }

  function feature(i) {
    return {
      id: i.id, cat: i.category, cat_label: i.category_label, sub_label: i.subtype_label,
      status: i.status, status_label: i.status_label,
      open: ["resolved", "closed", "cancelled"].indexOf(i.status) < 0, valid: i.valid !== false,
      lon: i.location ? i.location.lon : null, lat: i.location ? i.location.lat : null,
      at: i.received_at, priority: i.priority, address: i.address
    };
  }

  // An incident of the stream (its map feature) in the API shape the rows use.
  function fromFeature(f, old) {
    var i = old || {};
    i.id = f.id; i.category = f.cat; i.category_label = f.cat_label; i.subtype_label = f.sub_label;
    i.status = f.status; i.status_label = f.status_label; i.next_steps = f.next_steps || [];
    i.received_at = f.at; i.priority = f.priority; i.address = f.address; i.valid = f.valid;
    i.unit_id = f.unit_id;
    i.unit_name = unitNames[f.unit_id] || i.unit_name || "";
    i.location = f.lon === null ? null : { lon: f.lon, lat: f.lat };
    if (!i.source_id) i.source_id = "#" + f.id;
    return i;
  }

  function cell(text, cls) {
    return '<td class="' + (cls || "") + '" title="' + QZ.esc(text) + '">' + QZ.esc(text) + "</td>";
  }

  function row(i) {
    var c = (QZ.CATEGORY[i.category] || {}).color || "#999";
    var menu = canWrite && (i.next_steps || []).length ?
      '<button type="button" class="row-menu secondary" aria-haspopup="true" aria-expanded="false" aria-label="操作 ' + QZ.esc(i.source_id) + '">操作 ▾</button>' : "";
    // Today's calls by their time; older ones with their date in the tooltip and the cell.
    var today = QZ.fmtTime(new Date().toISOString(), true).slice(0, 5) === QZ.fmtTime(i.received_at, true).slice(0, 5);
    var when = QZ.fmtTime(i.received_at, !today);
    return '<tr data-id="' + i.id + '" class="p' + i.priority + '"><td title="' + QZ.fmtTime(i.received_at, true) + '">' + when + "</td>" +
      "<td>" + QZ.ops.waitCell({ status: i.status, at: i.received_at, priority: i.priority }) + "</td>" +
      '<td><span class="badge" style="background:' + c + ';color:#081528">' + QZ.esc(i.category_label) + "</span></td>" +
      '<td title="' + QZ.esc(i.subtype_label || i.source_id) + '"><a href="/incidents/' + i.id + '">' + QZ.esc(i.subtype_label || i.source_id) + "</a></td>" +
      cell(i.address) + cell(i.unit_name || "") +
      '<td class="st st-' + QZ.esc(i.status) + '">' + QZ.esc(i.status_label) + "</td>" +
      '<td class="ops">' + menu + "</td></tr>";
  }

  function load(append) {
    var p = params();
    p.set("limit", "200");
    if (append && cursor) p.set("cursor", cursor);
    else { p.set("facets", "true"); p.set("count", "true"); }
    return QZ.api("/api/incidents?" + p.toString()).then(function (page) {
      if (!append) { tbody.innerHTML = ""; layer.clear(); liveAdded = 0; for (var k in items) delete items[k]; }
      var html = "";
      page.items.forEach(function (i) { items[i.id] = i; html += row(i); layer.upsert(feature(i)); });
      tbody.insertAdjacentHTML("beforeend", html);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (page.total !== null && page.total !== undefined) {
        $("count").textContent = "共 " + page.total + " 起，已显示 " + Object.keys(items).length + " 起";
      } else {
        $("count").textContent = "已显示 " + Object.keys(items).length + " 起";
      }
      if (page.facets) renderFacets(page.facets);
      var ex = params().toString();
      ["csv", "xlsx", "geojson"].forEach(function (f) {
        $("exp-" + f).href = "/api/incidents/export." + f + (ex ? "?" + ex : "");
      });
    }).catch(function (e) {
      $("count").textContent = e.message;
    });
  }

  function renderFacets(f) {
    document.querySelectorAll("[data-facet]").forEach(function (el) {
      var kv = el.getAttribute("data-facet").split(":");
      var n = (f[kv[0]] || {})[kv[1]];
      el.textContent = n ? n : "";
    });
  }

  function select(id) {
    tbody.querySelectorAll("tr.sel").forEach(function (tr) { tr.classList.remove("sel"); });
    var tr = tbody.querySelector('tr[data-id="' + id + '"]');
    if (tr) { tr.classList.add("sel"); tr.scrollIntoView({ block: "nearest" }); }
    QZ.ops.markRead(Number(id));
  }

  // ---------------------------------------------------------------- the row menu

  function closeMenus() {
    document.querySelectorAll(".row-menu-pop").forEach(function (m) { m.remove(); });
    document.querySelectorAll("button.row-menu[aria-expanded=true]").forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
  }
  function flash(text, ok) {
    $("count").textContent = text;
    $("count").className = "count " + (ok ? "ok" : "err");
    QZ.ops.announce(text, !ok);
  }
  function openMenu(button) {
    var tr = button.closest("tr");
    var inc = items[tr.getAttribute("data-id")];
    closeMenus();
    var pop = document.createElement("div");
    pop.className = "row-menu-pop";
    pop.setAttribute("role", "group");
    pop.setAttribute("aria-label", "警情操作");
    button.after(pop);
    button.setAttribute("aria-expanded", "true");
    QZ.ops.stepButtons(pop, inc, {
      flash: flash,
      onDone: function (out) { closeMenus(); update(out); }
    });
    var first = pop.querySelector("button");
    if (first) first.focus();
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && document.querySelector(".row-menu-pop")) {
      var b = document.querySelector("button.row-menu[aria-expanded=true]");
      closeMenus();
      if (b) b.focus();
    }
  });

  tbody.addEventListener("click", function (ev) {
    var menu = ev.target.closest("button.row-menu");
    if (menu) { ev.stopPropagation(); openMenu(menu); return; }
    if (ev.target.closest(".row-menu-pop") || ev.target.tagName === "A") return;
    var tr = ev.target.closest("tr");
    if (!tr) return;
    var id = tr.getAttribute("data-id");
    select(id);
    var m = layer.markers()[id];
    if (m) layer.group.zoomToShowLayer(m, function () { m.openPopup(); });
  });

  // ---------------------------------------------------------------- live rows

  // A row's incident changed (from a step's answer or the stream): its row and marker.
  function update(inc) {
    var old = items[inc.id];
    if (old) for (var k in inc) if (Object.prototype.hasOwnProperty.call(inc, k)) old[k] = inc[k];
    var cur = old || inc;
    items[cur.id] = cur;
    var tr = tbody.querySelector('tr[data-id="' + cur.id + '"]');
    var html = row(cur);
    if (tr) {
      var sel = tr.classList.contains("sel");
      tr.outerHTML = html;
      tr = tbody.querySelector('tr[data-id="' + cur.id + '"]');
      if (sel) tr.classList.add("sel");
    } else {
      tbody.insertAdjacentHTML("afterbegin", html);
      tr = tbody.firstElementChild;
      tr.classList.add("fresh");
      liveAdded += 1;
      $("count").textContent = $("count").textContent.replace(/（实时新增 \d+ 起）$/, "") + "（实时新增 " + liveAdded + " 起）";
    }
    layer.upsert(feature(cur), !old);
  }

  function onStream(f) {
    QZ.ops.onCall(f);
    if (f.valid === false && !items[f.id]) return;
    if (!items[f.id] && !f.new) return;  // a change to a call this query does not show
    update(fromFeature(f, items[f.id] ? Object.assign({}, items[f.id]) : null));
  }

  // ---------------------------------------------------------------- call taking

  var panel = $("calltake-panel");
  var opener = $("open-calltake");
  function showCallTaking(on) {
    if (!panel) return;
    panel.hidden = !on;
    form.hidden = on;
    opener.setAttribute("aria-expanded", on ? "true" : "false");
    opener.textContent = on ? "返回查询" : "＋ 接警录入";
    if (on) panel.querySelector("input[name=caller_phone]").focus();
  }
  if (panel) {
    QZ.callForm(document.getElementById("calltake"), { map: map });
    opener.addEventListener("click", function () { showCallTaking(panel.hidden); });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "F2") { ev.preventDefault(); showCallTaking(true); }
    });
  }

  // ---------------------------------------------------------------- wiring

  form.addEventListener("submit", function (ev) { ev.preventDefault(); load(false); });
  form.addEventListener("reset", function () { setTimeout(function () { load(false); }, 0); });
  form.addEventListener("change", function (ev) { if (ev.target.type === "checkbox" || ev.target.tagName === "SELECT") load(false); });
  more.addEventListener("click", function () { load(true); });
  map.on("moveend", function () { if (form.elements.in_view.checked) load(false); });
  document.querySelectorAll("[data-range]").forEach(function (b) {
    b.addEventListener("click", function () {
      var days = Number(b.getAttribute("data-range"));
      var now = new Date();
      var start = new Date(now.getTime() - (days - 1) * 86400000);
      var p = QZ.fmtDateTime(start).match(/(\d+)年(\d+)月(\d+)日/);
      function two(x) { return (x.length < 2 ? "0" : "") + x; }
      form.elements.start.value = p[1] + "-" + two(p[2]) + "-" + two(p[3]) + "T00:00";
      form.elements.end.value = "";
      load(false);
    });
  });
  QZ.stream(null, { "incident": onStream, "incidents.bulk": function () { load(false); } });
  // A link from elsewhere (a brief's table row, a tile) opens the desk with its filters: the
  // query string fills the form before the first query.
  (function fillFromUrl() {
    new URLSearchParams(window.location.search).forEach(function (v, k) {
      var els = form.querySelectorAll('[name="' + k.replace(/"/g, "") + '"]');
      els.forEach(function (el) {
        if (el.type === "checkbox") { if (el.value === v) el.checked = true; }
        else if (el.type === "datetime-local") el.value = v.slice(0, 16);
        else el.value = v;
      });
    });
  })();
  base.ready.then(function () { return load(false); }).then(function () {
    document.body.setAttribute("data-ready", "1");
  });
})();
