/* Units and officers: on-duty officers on the map, live status per unit, a unit's officers. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var unitPage = document.getElementById("unit-page");
  var unitId = unitPage ? unitPage.getAttribute("data-unit") : null;
  var base = QZ.baseMap(document.getElementById("map"), { fitUnits: !!unitId });
  var officers = QZ.officerLayer(base.map);
  var KIND = { sworn: "民警", auxiliary: "辅警" };

  function summarise(items) {
    var by = {};
    items.forEach(function (o) {
      var b = by[o.unit_id] = by[o.unit_id] || { available: 0, dispatched: 0, on_scene: 0, off_duty: 0, office: 0 };
      // office staff on duty (street: false) are not 在岗警力, as on the big screen: counted apart
      b[o.street === false && o.status !== "off_duty" ? "office" : o.status] += 1;
    });
    return by;
  }

  function renderCards(items) {
    var by = summarise(items);
    document.querySelectorAll(".unit-card").forEach(function (card) {
      var ids = [card.getAttribute("data-unit")].concat((card.getAttribute("data-members") || "").split(",").filter(Boolean));
      var c = { available: 0, dispatched: 0, on_scene: 0, off_duty: 0, office: 0 };
      ids.forEach(function (u) { var b = by[u]; if (b) for (var k in c) c[k] += b[k]; });
      var on = c.available + c.dispatched + c.on_scene;
      var bars = card.querySelectorAll(".bars i");
      var total = Math.max(1, on + c.off_duty);
      bars[0].style.width = (100 * c.available / total) + "%";
      bars[1].style.width = (100 * c.dispatched / total) + "%";
      bars[2].style.width = (100 * c.on_scene / total) + "%";
      card.querySelector(".live-counts").textContent = "在岗 " + on + "（空闲 " + c.available + "，出警 " + c.dispatched + "，处警 " + c.on_scene + "）" +
        (c.office ? " · 内勤另计 " + c.office : "");
    });
  }

  function renderTable(items) {
    var tbody = document.querySelector("#officers tbody");
    var on = 0, busy = 0, office = 0;
    tbody.innerHTML = items.map(function (o) {
      if (o.status !== "off_duty") { if (o.street === false) office++; else on++; }
      if (o.status === "dispatched" || o.status === "on_scene") busy++;
      return "<tr><td>" + QZ.esc(o.no) + "</td><td>" + QZ.esc(o.name) + "</td><td>" + (KIND[o.kind] || "") + "</td><td>" + QZ.esc(o.unit) + "</td>" +
        '<td><span class="badge ' + QZ.esc(o.status) + '">' + QZ.esc(o.status_label) + "</span>" + (o.street === false ? ' <span class="tag">内勤</span>' : "") +
        (o.incident_id ? ' <a href="/incidents/' + o.incident_id + '">警情</a>' : "") + "</td><td>" + (o.at ? QZ.fmtTime(o.at, true) : "—") + "</td></tr>";
    }).join("");
    document.getElementById("u-on").textContent = on + (office ? "（内勤另计 " + office + "）" : "");
    document.getElementById("u-busy").textContent = busy;
  }

  var url = "/api/live/officers" + (unitId ? "?unit_id=" + unitId : "");
  Promise.all([base.ready, QZ.api(url)]).then(function (res) {
    var snap = res[1];
    snap.items.forEach(officers.upsert);
    if (unitId) renderTable(snap.items); else renderCards(snap.items);
    document.body.setAttribute("data-ready", "1");
    var pending = null;
    QZ.stream(snap.event_id, {
      "officer.positions": function (p) { p.items.forEach(function (o) { if (officers.data[o.id]) officers.upsert(o); }); },
      "officer.status": function () {
        if (pending) return;
        pending = setTimeout(function () {
          pending = null;
          QZ.api(url).then(function (s) {
            s.items.forEach(officers.upsert);
            if (unitId) renderTable(s.items); else renderCards(s.items);
          });
        }, 1000);
      }
    });
  });
})();
