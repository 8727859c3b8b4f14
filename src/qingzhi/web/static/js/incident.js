/* An incident's page: location map, dispatch candidates (one click), body-camera video. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var root = document.getElementById("incident");
  var id = Number(root.getAttribute("data-id"));
  var lon = parseFloat(root.getAttribute("data-lon"));
  var lat = parseFloat(root.getAttribute("data-lat"));
  var canDispatch = !!root.getAttribute("data-can-dispatch");
  var status = root.getAttribute("data-status");
  document.querySelectorAll(".when[data-iso]").forEach(function (el) {
    el.textContent = QZ.fmtTime(el.getAttribute("data-iso"), true);
  });

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

  function refreshTimeline() {
    return QZ.api("/api/incidents/" + id + "/timeline").then(function (entries) {
      document.getElementById("timeline").innerHTML = entries.map(function (e) {
        var note = e.kind === "lifecycle" && e.detail && e.detail.note ? '<div class="muted">' + QZ.esc(e.detail.note) + "</div>" : "";
        var link = e.kind === "linked_call" ? ' <a href="/incidents/' + e.detail.incident_id + '">查看</a>' : "";
        return '<li class="' + QZ.esc(e.kind) + '"><span class="when">' + QZ.fmtTime(e.at, true) + "</span><b>" +
          QZ.esc(e.title) + "</b>" + (e.actor ? ' <span class="muted">· ' + QZ.esc(e.actor) + "</span>" : "") + link + note + "</li>";
      }).join("");
    }).catch(function () { /* keep the server-rendered timeline */ });
  }

  function msg(text, ok) {
    var el = document.getElementById("dispatch-msg");
    el.innerHTML = text ? '<div class="flash ' + (ok ? "ok" : "err") + '" role="status">' + QZ.esc(text) + "</div>" : "";
  }

  function loadCandidates() {
    if (!canDispatch) return Promise.resolve();
    var tbody = document.querySelector("#candidates tbody");
    return QZ.api("/api/dispatch/incidents/" + id + "/candidates?limit=8").then(function (rec) {
      var m = { road_graph: "按路网行程时间", straight_line: "按直线距离 × 绕行系数", none: "无位置，按单位排序" }[rec.method] || "";
      document.getElementById("method").textContent = m;
      candLayer.clearLayers();
      var open = status === "received" || status === "transferred";
      if (!rec.candidates.length) {
        tbody.innerHTML = '<tr><td colspan="6" class="muted">暂无空闲警力</td></tr>';
        return;
      }
      var bounds = here ? [here.getLatLng()] : [];
      tbody.innerHTML = rec.candidates.map(function (c, k) {
        if (c.lat !== null) {
          var mk = L.circleMarker([c.lat, c.lon], { radius: 6, color: "#fff", weight: 1.5, fillColor: "#37e27b", fillOpacity: 1 })
            .bindTooltip((k + 1) + ". " + QZ.esc(c.name), { permanent: k < 3, direction: "right" });
          candLayer.addLayer(mk);
          if (k < 3) bounds.push(mk.getLatLng());
        }
        return '<tr data-officer="' + c.officer_id + '"><td>' + (k + 1) + '</td><td>' + QZ.esc(c.name) + ' <span class="muted">' + QZ.esc(c.police_number) + '</span></td>' +
          '<td>' + QZ.esc(c.unit_name) + ' <span class="tier">' + QZ.esc(c.tier_label) + '</span></td>' +
          '<td>' + (c.distance_m === null ? "—" : (c.distance_m / 1000).toFixed(1) + " km") + (c.position_estimated ? ' <span class="tier">估</span>' : "") + '</td>' +
          '<td>' + QZ.fmtDuration(c.eta_seconds) + '</td>' +
          '<td>' + (open ? '<button type="button" class="dispatch" data-officer="' + c.officer_id + '">派警</button>' : "") + '</td></tr>';
      }).join("");
      if (bounds.length > 1) map.fitBounds(L.latLngBounds(bounds), { padding: [30, 30], maxZoom: 15 });
    }).catch(function (e) { msg(e.message, false); });
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button.dispatch");
    if (!b) return;
    var oid = Number(b.getAttribute("data-officer"));
    document.querySelectorAll("button.dispatch").forEach(function (x) { x.disabled = true; });
    QZ.api("/api/dispatch/incidents/" + id, { method: "POST", body: { officer_ids: [oid] } }).then(function (inc) {
      status = inc.status;
      var badge = document.getElementById("status-badge");
      badge.textContent = inc.status_label;
      badge.className = "badge st st-" + inc.status;
      msg("已派警：" + b.closest("tr").children[1].textContent, true);
      refreshTimeline();
      loadCandidates();
      loadOfficers();
    }).catch(function (e) {
      msg(e.message, false);
      document.querySelectorAll("button.dispatch").forEach(function (x) { x.disabled = false; });
    });
  });

  var hls = null;
  function playCamera(o) {
    var box = document.getElementById("camera-box");
    var video = document.getElementById("camera");
    if (!o || !o.camera_url) return;
    box.hidden = false;
    document.getElementById("camera-who").textContent = o.name + "（" + o.no + "）执法记录仪";
    if (video.getAttribute("data-src") === o.camera_url) return;
    video.setAttribute("data-src", o.camera_url);
    if (video.canPlayType("application/vnd.apple.mpegurl")) { video.src = o.camera_url; return; }
    if (window.Hls && window.Hls.isSupported()) {
      if (hls) hls.destroy();
      hls = new window.Hls();
      hls.loadSource(o.camera_url);
      hls.attachMedia(video);
    }
  }

  function loadOfficers() {
    return QZ.api("/api/live/officers").then(function (snap) {
      var mine = snap.items.filter(function (o) { return o.incident_id === id; });
      document.getElementById("assigned").innerHTML = mine.length ? mine.map(function (o) {
        return "<li>" + QZ.esc(o.name) + "（" + QZ.esc(o.no) + "）· " + QZ.esc(o.unit) + ' · <span class="badge ' + QZ.esc(o.status) + '">' + QZ.esc(o.status_label) + "</span></li>";
      }).join("") : "<li>尚未派警</li>";
      mine.forEach(officers.upsert);
      playCamera(mine.filter(function (o) { return o.camera_url; })[0]);
      return snap.event_id;
    }).catch(function () { return null; });
  }

  Promise.all([base.ready, loadCandidates(), loadOfficers()]).then(function (res) {
    document.body.setAttribute("data-ready", "1");
    QZ.stream(res[2], {
      "incident": function (f) {
        if (f.id !== id) return;
        status = f.status;
        var badge = document.getElementById("status-badge");
        badge.textContent = f.status_label;
        badge.className = "badge st st-" + f.status;
        loadCandidates();
        refreshTimeline();
      },
      "officer.status": function (o) {
        if (o.incident_id === id) { officers.upsert(o); loadOfficers(); }
        else if (canDispatch) loadCandidates();
      },
      "officer.positions": function (p) {
        p.items.forEach(function (o) { if (officers.data[o.id]) officers.upsert(o); });
      }
    });
  });
})();
