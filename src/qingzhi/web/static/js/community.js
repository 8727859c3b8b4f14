/* Community pages (社区警务): the zone board's map, the dispute page's actions and the
 * phone-sized visit form. Posts to /api/community; no inline scripts (the CSP forbids them). */
(function () {
  "use strict";
  var QZ = window.QZ;
  function $(id) { return document.getElementById(id); }
  function showError(el, err) { if (el) el.textContent = err && err.message ? err.message : String(err); }
  // datetime-local (Beijing time) → ISO with +08:00
  function beijing(value) { return value ? value + (value.length === 16 ? ":00" : "") + "+08:00" : null; }
  function localTimes() {
    document.querySelectorAll(".cm-time[data-at]").forEach(function (el) {
      var at = el.getAttribute("data-at");
      if (at) el.textContent = QZ.fmtTime(at.indexOf("T") > 0 ? at : at + "T00:00:00Z", true);
    });
  }

  // ---------------------------------------------------------------- zone board
  function board(el) {
    var unit = el.getAttribute("data-unit");
    var mapEl = $("map");
    if (!unit || !mapEl) { document.body.setAttribute("data-ready", "1"); return; }
    var map = L.map(mapEl, { attributionControl: false, zoomSnap: 0.25 });
    var tile = el.getAttribute("data-tile-url");
    if (tile) L.tileLayer(tile, { maxZoom: 18 }).addTo(map);
    map.setView([30.33, 107.35], 12);
    QZ.api("/api/community/units/" + unit + "/board").then(function (b) {
      var colors = ["#1f6feb", "#8957e5", "#1a7f64", "#bf8700", "#cf222e", "#0a7ea4", "#a0499e", "#2da44e"];
      var bounds = null;
      b.zones.forEach(function (z, i) {
        if (!z.geometry) return;
        var layer = L.geoJSON(z.geometry, {
          style: { color: "#9fc7ff", weight: 1.5, fillColor: colors[i % colors.length], fillOpacity: 0.25 }
        }).addTo(map);
        layer.bindTooltip(QZ.esc(z.name) + "<br>驻片 " + z.officers.length + " 人 · 本月走访 " + z.visits_this_month +
          " · 在办纠纷 " + z.open_disputes, { sticky: true });
        bounds = bounds ? bounds.extend(layer.getBounds()) : layer.getBounds();
      });
      b.posts.forEach(function (p) {
        if (p.lon === null) return;
        L.marker([p.lat, p.lon], { title: p.name }).addTo(map)
          .bindTooltip("社区警务室：" + QZ.esc(p.name) + (p.phone ? "<br>" + QZ.esc(p.phone) : ""));
      });
      b.open_disputes.forEach(function (d) {
        if (d.lon === null || d.lat === null) return;
        L.circleMarker([d.lat, d.lon], { radius: 5, color: "#2a0b3d", weight: 1, fillColor: d.attention ? "#ff4d5e" : "#b57bff", fillOpacity: 0.9 })
          .addTo(map).bindTooltip("纠纷 #" + d.id + " " + QZ.esc(d.kind_label) + " · " + QZ.esc(d.status_label))
          .on("click", function () { window.location.href = "/community/disputes/" + d.id; });
      });
      if (bounds) map.fitBounds(bounds.pad(0.05));
      document.body.setAttribute("data-ready", "1");
    }).catch(function () { document.body.setAttribute("data-ready", "1"); });
  }

  // ---------------------------------------------------------------- one dispute
  function disputePage(el) {
    var id = el.getAttribute("data-id");
    var errorEl = $("d-error");
    function reloadOnOk(p) { return p.then(function () { window.location.reload(); }).catch(function (e) { showError(errorEl, e); }); }
    var unmask = $("unmask");
    if (unmask) unmask.addEventListener("click", function () {
      QZ.api("/api/community/disputes/" + id + "?unmask=true").then(function (d) {
        var rows = document.querySelectorAll("#parties tbody tr");
        d.parties.forEach(function (p, i) {
          var cells = rows[i] ? rows[i].querySelectorAll("td") : [];
          if (cells.length > 2) { cells[1].textContent = p.id_number || "—"; cells[2].textContent = p.phone || "—"; }
        });
        unmask.disabled = true; unmask.textContent = "已显示完整信息（已记入审计）";
      }).catch(function (e) { showError(errorEl, e); });
    });
    var party = $("party-form");
    if (party) party.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = party.elements;
      var p = { name: f.name.value };
      if (f.id_number.value) p.id_number = f.id_number.value;
      if (f.phone.value) p.phone = f.phone.value;
      reloadOnOk(QZ.api("/api/community/disputes/" + id, { method: "PATCH", body: { add_parties: [p] } }));
    });
    var session = $("session-form");
    if (session) session.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = session.elements;
      var body = {
        package: f.package.value || null,
        participants: f.participants.value.split(/[、,，]\s*/).filter(Boolean),
        started_at: beijing(f.started_at.value), ended_at: beijing(f.ended_at.value),
        outcome: f.outcome.value, agreement: f.agreement.value
      };
      reloadOnOk(QZ.api("/api/community/disputes/" + id + "/sessions", { method: "POST", body: body }));
    });
    var step = $("transition-form");
    if (step) step.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = step.elements;
      var body = { to: f.to.value, referred_to: f.referred_to.value, note: f.note.value };
      if (f.follow_up_due.value) body.follow_up_due = f.follow_up_due.value;
      reloadOnOk(QZ.api("/api/community/disputes/" + id + "/transitions", { method: "POST", body: body }));
    });
    document.body.setAttribute("data-ready", "1");
  }

  // ---------------------------------------------------------------- the visit form
  function visitForm(el) {
    var own = el.getAttribute("data-own-zone");
    var form = $("visit-form");
    var chosen = { zone_id: own || null, purpose: null };
    function outside() { return own && chosen.zone_id && chosen.zone_id !== own; }
    function refresh() {
      var out = outside();
      form.querySelector(".cm-outside").hidden = !out;
      $("v-warning").hidden = !out;
    }
    form.querySelectorAll(".cm-choices").forEach(function (group) {
      var name = group.getAttribute("data-name");
      group.addEventListener("click", function (ev) {
        var b = ev.target.closest(".cm-choice");
        if (!b) return;
        group.querySelectorAll(".cm-choice").forEach(function (x) { x.classList.toggle("on", x === b); });
        chosen[name] = b.getAttribute("data-value");
        refresh();
      });
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = form.elements;
      if (!chosen.zone_id) { showError($("v-error"), "请选择片区"); return; }
      var body = { zone_id: Number(chosen.zone_id), address: f.address.value, notes: f.notes.value, findings: f.findings.value };
      if (chosen.purpose) body.purpose = chosen.purpose;
      if (outside()) body.outside_reason = f.outside_reason.value;
      QZ.api("/api/community/visits", { method: "POST", body: body }).then(function (v) {
        form.hidden = true;
        $("visit-done").hidden = false;
        $("v-id").textContent = "#" + v.id;
        $("v-summary").textContent = v.zone_name + " · " + v.purpose_label + (v.warning ? "（" + v.warning + "）" : "");
        var open = $("open-dispute");
        if (v.findings) {
          open.hidden = false;
          open.addEventListener("click", function () {
            QZ.api("/api/community/disputes", { method: "POST", body: { visit_id: v.id, summary: v.findings } })
              .then(function (d) { window.location.href = "/community/disputes/" + d.id; })
              .catch(function (e) { showError($("v-summary"), e); });
          });
        }
        var task = $("open-task");
        if (task && v.findings) {
          task.hidden = false;
          task.addEventListener("click", function () {
            task.disabled = true;
            QZ.api("/api/community/visits/" + v.id + "/task", { method: "POST", body: {} })
              .then(function (w) {
                var id = w.task_ids[w.task_ids.length - 1];
                task.hidden = true;
                $("v-task").hidden = false;
                $("v-task-link").textContent = "#" + id;
                $("v-task-link").href = "/tasks/" + id;
              })
              .catch(function (e) { task.disabled = false; showError($("v-summary"), e); });
          });
        }
      }).catch(function (e) { showError($("v-error"), e); });
    });
    refresh();
    document.body.setAttribute("data-ready", "1");
  }

  document.querySelectorAll("#disputes tbody tr[data-href]").forEach(function (tr) {
    tr.addEventListener("click", function (ev) { if (!ev.target.closest("a")) window.location.href = tr.getAttribute("data-href"); });
  });
  localTimes();
  if ($("community-board")) board($("community-board"));
  else if ($("community-dispute")) disputePage($("community-dispute"));
  else if ($("community-visit")) visitForm($("community-visit"));
  else document.body.setAttribute("data-ready", "1");
})();
