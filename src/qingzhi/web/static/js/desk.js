/* The incident desk: the one-click query, facets, results and map in step, exports. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var form = document.getElementById("filters");
  var tbody = document.querySelector("#results tbody");
  var more = document.getElementById("more");
  var base = QZ.baseMap(document.getElementById("map"));
  var map = base.map;
  var layer = QZ.incidentLayer(map, { onClick: select });
  var cursor = null;
  var items = {};

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
      open: ["resolved", "closed", "cancelled"].indexOf(i.status) < 0, valid: true,
      lon: i.location ? i.location.lon : null, lat: i.location ? i.location.lat : null,
      at: i.received_at, priority: i.priority, address: i.address
    };
  }

  function row(i) {
    var c = (QZ.CATEGORY[i.category] || {}).color || "#999";
    return '<tr data-id="' + i.id + '"><td>' + QZ.fmtTime(i.received_at, true) + '</td>' +
      '<td><span class="badge" style="background:' + c + ';color:#081528">' + QZ.esc(i.category_label) + '</span></td>' +
      '<td><a href="/incidents/' + i.id + '">' + QZ.esc(i.subtype_label || i.source_id) + '</a></td>' +
      '<td>' + QZ.esc(i.address) + '</td><td>' + QZ.esc(i.unit_name || "") + '</td>' +
      '<td class="st-' + QZ.esc(i.status) + '">' + QZ.esc(i.status_label) + '</td></tr>';
  }

  function load(append) {
    var p = params();
    p.set("limit", "200");
    if (append && cursor) p.set("cursor", cursor);
    else { p.set("facets", "true"); p.set("count", "true"); }
    return QZ.api("/api/incidents?" + p.toString()).then(function (page) {
      if (!append) { tbody.innerHTML = ""; layer.clear(); items = {}; }
      var html = "";
      page.items.forEach(function (i) { items[i.id] = i; html += row(i); layer.upsert(feature(i)); });
      tbody.insertAdjacentHTML("beforeend", html);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (page.total !== null && page.total !== undefined) {
        document.getElementById("count").textContent = "共 " + page.total + " 起，已显示 " + Object.keys(items).length + " 起";
      } else {
        document.getElementById("count").textContent = "已显示 " + Object.keys(items).length + " 起";
      }
      if (page.facets) renderFacets(page.facets);
      var ex = params().toString();
      ["csv", "xlsx", "geojson"].forEach(function (f) {
        document.getElementById("exp-" + f).href = "/api/incidents/export." + f + (ex ? "?" + ex : "");
      });
    }).catch(function (e) {
      document.getElementById("count").textContent = e.message;
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
  }

  tbody.addEventListener("click", function (ev) {
    if (ev.target.tagName === "A") return;
    var tr = ev.target.closest("tr");
    if (!tr) return;
    var id = tr.getAttribute("data-id");
    select(id);
    var m = layer.markers()[id];
    if (m) layer.group.zoomToShowLayer(m, function () { m.openPopup(); });
  });
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
  base.ready.then(function () { return load(false); }).then(function () {
    document.body.setAttribute("data-ready", "1");
  });
})();
