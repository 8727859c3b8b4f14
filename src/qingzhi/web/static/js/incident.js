/* An incident's page: its next steps as buttons, dispatch of several officers (and later
 * reinforcement), the units sent with their own times (到场 / 撤离 each), the location map, the
 * body camera, and live updates from the stream. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var root = document.getElementById("incident");
  var id = Number(root.getAttribute("data-id"));
  var lon = parseFloat(root.getAttribute("data-lon"));
  var lat = parseFloat(root.getAttribute("data-lat"));
  var canDispatch = !!root.getAttribute("data-can-dispatch");
  var canWrite = !!root.getAttribute("data-can-write");
  var canOfficers = !!root.getAttribute("data-can-officers");
  var inc = null;
  var cameras = {};  // officer id -> officer feature with camera_url
  function $(x) { return document.getElementById(x); }
  function whenAll() {
    document.querySelectorAll(".when[data-iso]").forEach(function (el) {
      var iso = el.getAttribute("data-iso");
      el.textContent = iso ? QZ.fmtTime(iso, true) : "—";
    });
  }
  whenAll();

  var base = QZ.baseMap(document.getElementById("map"), { tileUrl: root.getAttribute("data-tile-url") });
  var map = base.map;
  var officers = QZ.officerLayer(map);
  var candLayer = L.layerGroup().addTo(map);
  var here = null;
  base.ready.then(function () {
    if (!isNaN(lon)) {
      here = L.circleMarker([lat, lon], { radius: 9, color: "#fff", weight: 2, fillColor: "#ff4d5e", fillOpacity: 1 }).addTo(map);
      QZ.pulse(map, [lat, lon], "#ff4d5e");
      map.setView([lat, lon], 14);
    }
  });

  function flash(where, text, ok) {
    $(where).innerHTML = text ? '<div class="flash ' + (ok ? "ok" : "err") + '" role="' + (ok ? "status" : "alert") + '">' + QZ.esc(text) + "</div>" : "";
  }

  // ---------------------------------------------------------------- the incident and its steps

  function loadIncident() {
    return QZ.api("/api/incidents/" + id).then(function (out) { render(out); return out; });
  }

  function render(out) {
    inc = out;
    root.setAttribute("data-status", inc.status);
    var badge = $("status-badge");
    badge.textContent = inc.status_label;
    badge.className = "badge st st-" + inc.status;
    $("f-result").textContent = inc.result || "—";
    if (inc.response_seconds !== null) {
      var rs = Math.round(inc.response_seconds);
      $("f-response").textContent = Math.floor(rs / 60) + " 分 " + (rs % 60) + " 秒";
    }
    var none = $("no-dispatch");
    if (none) none.textContent = "本警情" + inc.status_label + "，不再派警。";
    if (canWrite && $("steps")) {
      QZ.ops.stepButtons($("steps"), inc, {
        flash: function (t, ok) { flash("step-msg", t, ok); },
        onDone: function (o) { render(o); refresh(); },
        onDispatch: function () {
          $("dispatch-panel").focus();
          var first = document.querySelector("#candidates input[type=checkbox]");
          if (first) first.focus();
        }
      });
    }
  }

  // ---------------------------------------------------------------- candidates (several at once)

  function loadCandidates() {
    if (!canDispatch) return Promise.resolve();
    var tbody = document.querySelector("#candidates tbody");
    return QZ.api("/api/dispatch/incidents/" + id + "/candidates?limit=10").then(function (rec) {
      candLayer.clearLayers();
      var reinforce = inc && (inc.status === "dispatched" || inc.status === "arrived");
      $("dispatch-title").textContent = reinforce ? "增援派警" : "派警推荐";
      $("dispatch-box").hidden = !rec.dispatchable;
      $("no-dispatch").hidden = rec.dispatchable;
      if (inc) $("no-dispatch").textContent = "本警情" + inc.status_label + "，不再派警。";
      $("policy-note").hidden = !rec.sworn_required;
      $("policy-note").textContent = rec.policy_label || "";
      if (!rec.dispatchable) { $("method").textContent = ""; return; }
      var m = { road_graph: "按路网行程时间", straight_line: "按直线距离 × 绕行系数", none: "无位置，按单位排序" }[rec.method] || "";
      $("method").textContent = m;
      if (!rec.candidates.length) {
        tbody.innerHTML = '<tr><td colspan="6" class="muted">暂无空闲警力</td></tr>';
        updateSend();
        return;
      }
      var bounds = here ? [here.getLatLng()] : [];
      var keep = {};
      picked().forEach(function (oid) { keep[oid] = 1; });  // choices survive a refresh
      tbody.innerHTML = rec.candidates.map(function (c, k) {
        if (c.lat !== null) {
          var mk = L.circleMarker([c.lat, c.lon], { radius: 6, color: "#fff", weight: 1.5, fillColor: "#37e27b", fillOpacity: 1 })
            .bindTooltip((k + 1) + ". " + QZ.esc(c.name), { permanent: k < 3, direction: "right" });
          candLayer.addLayer(mk);
          if (k < 3) bounds.push(mk.getLatLng());
        }
        var label = c.name + "（" + c.police_number + "）";
        return '<tr data-officer="' + c.officer_id + '" data-kind="' + QZ.esc(c.kind) + '">' +
          '<td><input type="checkbox" class="pick" value="' + c.officer_id + '"' + (keep[c.officer_id] ? " checked" : "") +
          ' aria-label="选择 ' + QZ.esc(label) + '"></td>' +
          "<td>" + (k + 1) + ". " + QZ.esc(c.name) + ' <span class="muted">' + QZ.esc(c.police_number) + "</span></td>" +
          '<td><span class="kind kind-' + QZ.esc(c.kind) + '">' + QZ.esc(c.kind_label) + "</span>" +
          (c.needs_sworn ? ' <span class="tier" title="' + QZ.esc(rec.policy_label) + '">须民警同往</span>' : "") + "</td>" +
          "<td>" + QZ.esc(c.unit_name) + ' <span class="tier">' + QZ.esc(c.tier_label) + "</span></td>" +
          "<td>" + (c.distance_m === null ? "—" : (c.distance_m / 1000).toFixed(1) + " km") + (c.position_estimated ? ' <span class="tier">估</span>' : "") + "</td>" +
          "<td>" + QZ.fmtDuration(c.eta_seconds) + "</td></tr>";
      }).join("");
      $("candidates").setAttribute("data-sworn-required", rec.sworn_required ? "1" : "");
      updateSend();
      if (bounds.length > 1) map.fitBounds(L.latLngBounds(bounds), { padding: [30, 30], maxZoom: 15 });
    }).catch(function (e) { flash("dispatch-msg", e.message, false); });
  }

  function picked() {
    return Array.prototype.map.call(document.querySelectorAll("#candidates input.pick:checked"), function (x) {
      return Number(x.value);
    });
  }
  function updateSend() {
    var send = $("send");
    if (!send) return;
    var n = picked().length;
    var reinforce = inc && (inc.status === "dispatched" || inc.status === "arrived");
    send.disabled = n === 0;
    send.textContent = (reinforce ? "增援派出 " : "派出 ") + n + " 名警力";
    var needSworn = $("candidates").getAttribute("data-sworn-required");
    var onlyAux = n > 0 && !document.querySelector('#candidates tr[data-kind="sworn"] input.pick:checked');
    $("send-note").textContent = needSworn && onlyAux ? "刑事或紧急警情须有民警同往" : "";
  }
  document.addEventListener("change", function (ev) { if (ev.target.classList && ev.target.classList.contains("pick")) updateSend(); });
  if ($("send")) {
    $("send").addEventListener("click", function () {
      var ids = picked();
      if (!ids.length) return;
      $("send").disabled = true;
      QZ.api("/api/dispatch/incidents/" + id, { method: "POST", body: { officer_ids: ids } }).then(function (out) {
        flash("dispatch-msg", "已派出 " + ids.length + " 名警力", true);
        QZ.ops.announce("已派出 " + ids.length + " 名警力");
        render(out);
        refresh();
      }).catch(function (e) {
        flash("dispatch-msg", e.message, false);
        updateSend();
      });
    });
  }

  // ---------------------------------------------------------------- units sent

  function loadAssignments() {
    var snap = canOfficers ? QZ.api("/api/live/officers").catch(function () { return { items: [], event_id: null }; })
      : Promise.resolve({ items: [], event_id: null });
    return Promise.all([QZ.api("/api/incidents/" + id + "/assignments"), snap]).then(function (res) {
      var rows = res[0];
      var live = {};
      res[1].items.forEach(function (o) { live[o.id] = o; });
      var tbody = document.querySelector("#assigned tbody");
      tbody.innerHTML = rows.length ? rows.map(function (a) {
        var o = live[a.officer_id];
        if (o && a.active) { officers.upsert(o); }
        if (o && o.camera_url) cameras[a.officer_id] = o;
        var actions = "";
        if (a.active && canWrite) {
          if (a.status === "dispatched") actions += '<button type="button" class="unit-step" data-to="arrived" data-assignment="' + a.id + '">到场</button> ';
          actions += '<button type="button" class="unit-step secondary" data-to="cleared" data-assignment="' + a.id + '">' + (a.status === "dispatched" ? "撤回" : "撤离") + "</button> ";
        }
        if (o && o.camera_url) actions += '<button type="button" class="camera-open secondary" data-officer="' + a.officer_id + '">执法记录仪</button>';
        return '<tr data-assignment="' + a.id + '" data-officer="' + a.officer_id + '" class="' + (a.active ? "active" : "done") + '">' +
          "<td>" + QZ.esc(a.name) + "（" + QZ.esc(a.police_number) + "）</td><td>" + QZ.esc(a.kind_label) + "</td>" +
          '<td><span class="badge as-' + QZ.esc(a.status) + '">' + QZ.esc(a.status_label) + "</span></td>" +
          "<td>" + QZ.fmtTime(a.dispatched_at, true) + "</td><td>" + QZ.fmtTime(a.arrived_at, true) + "</td><td>" +
          QZ.fmtTime(a.cleared_at, true) + "</td><td>" + actions + "</td></tr>";
      }).join("") : '<tr class="none"><td colspan="7" class="muted">尚未派警</td></tr>';
      var withCamera = rows.filter(function (a) { return a.active && cameras[a.officer_id]; })[0];
      if (withCamera && $("camera-box").hidden) QZ.camera.play($("camera-box"), cameras[withCamera.officer_id]);
      return res[1].event_id;
    });
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button.unit-step");
    if (b) {
      b.disabled = true;
      var to = b.getAttribute("data-to");
      QZ.api("/api/incidents/" + id + "/assignments/" + b.getAttribute("data-assignment"), { method: "POST", body: { to: to } })
        .then(function (out) {
          flash("dispatch-msg", to === "arrived" ? "已到场" : "已撤离", true);
          render(out);
          refresh();
        }).catch(function (e) { flash("dispatch-msg", e.message, false); b.disabled = false; });
      return;
    }
    var cam = ev.target.closest("button.camera-open");
    if (cam) QZ.camera.play($("camera-box"), cameras[cam.getAttribute("data-officer")]);
  });

  function refreshTimeline() {
    return QZ.api("/api/incidents/" + id + "/timeline").then(function (entries) {
      $("timeline").innerHTML = entries.map(function (e) {
        var note = e.kind === "lifecycle" && e.detail && e.detail.note ? '<div class="muted">' + QZ.esc(e.detail.note) + "</div>" : "";
        var link = e.kind === "linked_call" ? ' <a href="/incidents/' + e.detail.incident_id + '">查看</a>' : "";
        return '<li class="' + QZ.esc(e.kind) + '"><span class="when">' + QZ.fmtTime(e.at, true) + "</span><b>" +
          QZ.esc(e.title) + "</b>" + (e.actor ? ' <span class="muted">· ' + QZ.esc(e.actor) + "</span>" : "") + link + note + "</li>";
      }).join("");
    }).catch(function () { /* keep the server-rendered timeline */ });
  }

  var refreshTimer = null;
  function refresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      loadIncident().then(function () { return Promise.all([loadCandidates(), loadAssignments(), refreshTimeline()]); });
    }, 150);
  }

  loadIncident().then(function () {
    return Promise.all([base.ready, loadCandidates(), loadAssignments()]);
  }).then(function (res) {
    document.body.setAttribute("data-ready", "1");
    QZ.stream(res[2], {
      "incident": function (f) { if (f.id === id) refresh(); },
      "officer.status": function (o) {
        if (o.incident_id === id || officers.data[o.id]) refresh();
        else if (canDispatch) loadCandidates();
      },
      "officer.positions": function (p) {
        p.items.forEach(function (o) { if (officers.data[o.id]) officers.upsert(o); });
      }
    });
  }).catch(function (e) {
    document.body.setAttribute("data-error", e.message);
    document.body.setAttribute("data-ready", "1");
  });
})();
