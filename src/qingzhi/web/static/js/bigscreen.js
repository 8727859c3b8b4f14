/* The command centre's big screen: the live map, tiles, charts and the incident feed. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var screen = document.getElementById("screen");
  var canOfficers = !!screen.getAttribute("data-can-officers");
  var base = QZ.baseMap(document.getElementById("map"));
  var map = base.map;
  var incidents = QZ.incidentLayer(map);
  // An officer's marker opens their body camera where a stream is set.
  var officers = QZ.officerLayer(map, { onClick: function (o) { if (o.camera_url) QZ.camera.play($("camera-box"), o); } });
  var feedEl = document.getElementById("feed");
  var feed = [];
  var charts = {};
  var dash = null;
  window.__qz = { map: map, incidents: incidents, officers: officers, seen: {} };

  function $(id) { return document.getElementById(id); }

  function clock() {
    $("clock").textContent = QZ.fmtDateTime(new Date());
  }
  clock();
  setInterval(clock, 1000);

  // ---------------------------------------------------------------- feed
  function renderFeed() {
    feed.sort(function (a, b) { return a.at < b.at ? 1 : -1; });
    feed = feed.slice(0, 40);
    $("feed-count").textContent = "（最新 " + feed.length + " 条）";
    var focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#feed li");
    var keep = focused ? focused.getAttribute("data-id") : null;
    feedEl.innerHTML = feed.map(function (f) {
      var c = (QZ.CATEGORY[f.cat] || {}).color || "#999";
      var label = (f.cat_label || "") + " " + (f.sub_label || "") + " " + (f.address || "") + " " + (f.status_label || "");
      return '<li tabindex="0" role="button" aria-label="' + QZ.esc(label) + '" class="p' + f.priority + " " + (f.open ? "open" : "done") + (f.fresh ? " fresh" : "") + '" data-id="' + f.id + '">' +
        '<span class="tag-cat" style="background:' + c + '">' + QZ.esc(f.cat_label) + '</span>' +
        '<span class="t">' + QZ.fmtTime(f.at) + '</span>' +
        '<span class="what">' + QZ.esc(f.sub_label || "") + '</span>' +
        QZ.ops.waitCell(f) +
        '<span class="st st-' + QZ.esc(f.status) + '">' + QZ.esc(f.status_label) + '</span>' +
        '<div class="addr" title="' + QZ.esc(f.address || "") + '">' + QZ.esc(f.address || "") + ' <a href="/incidents/' + f.id + '" tabindex="-1">详情</a></div></li>';
    }).join("");
    if (keep) {
      var again = feedEl.querySelector('li[data-id="' + keep + '"]');
      if (again) again.focus();
    }
  }
  function locate(li) {
    QZ.ops.markRead(Number(li.getAttribute("data-id")));
    var m = incidents.markers()[li.getAttribute("data-id")];
    if (m) {
      incidents.group.zoomToShowLayer(m, function () { m.openPopup(); });
    }
  }
  feedEl.addEventListener("click", function (ev) {
    if (ev.target.tagName === "A") return;
    var li = ev.target.closest("li");
    if (li) locate(li);
  });
  feedEl.addEventListener("keydown", function (ev) {
    var li = ev.target.closest("li");
    if (!li) return;
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); locate(li); }
    else if (ev.key === "o") window.location.href = "/incidents/" + li.getAttribute("data-id");
  });
  function upsertFeed(f, fresh) {
    if (f.valid === false) return;
    for (var i = 0; i < feed.length; i++) {
      if (feed[i].id === f.id) { f.fresh = feed[i].fresh; feed[i] = f; return; }
    }
    f.fresh = !!fresh;
    feed.push(f);
  }

  // ---------------------------------------------------------------- charts
  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
    return charts[id];
  }
  var AXIS = { axisLine: { lineStyle: { color: "#3b5478" } }, axisLabel: { color: "#9fb3cc" }, splitLine: { lineStyle: { color: "#1d3250" } } };
  function merge(a, b) { var o = {}; for (var k in a) o[k] = a[k]; for (var j in b) o[j] = b[j]; return o; }

  function renderFigures(d) {
    dash = d;
    $("t-today").textContent = d.totals.today;
    // Counts and the exact test's verdict, never a percentage of single digits.
    function cmp(c) { return c.previous + " 起·" + c.verdict; }
    $("t-today-cmp").textContent = "上周 " + cmp(d.compare.week) + "｜去年 " + cmp(d.compare.year);
    $("t-today-cmp").title = "精确条件检验（泊松计数），p = " + d.compare.week.p_value + " / " + d.compare.year.p_value;
    $("t-open").textContent = d.open_incidents;
    $("t-resp").textContent = d.mean_response_seconds === null ? "—" : QZ.fmtDuration(d.mean_response_seconds);
    $("t-resp-n").textContent = "近 24 小时 · " + d.responses + " 起到场";
    renderOfficerTiles();
    var labels = d.categories.map(function (c) { return c.label; });
    var keys = d.categories.map(function (c) { return c.key; });
    chart("chart-cat").setOption({
      animation: false,
      grid: { left: 36, right: 12, top: 34, bottom: 24 },
      legend: { top: 0, textStyle: { color: "#c9d6e8" }, itemWidth: 12, itemHeight: 8 },
      tooltip: { trigger: "axis" },
      xAxis: merge(AXIS, { type: "category", data: labels }),
      yAxis: merge(AXIS, { type: "value", minInterval: 1 }),
      series: [
        { name: "今日", type: "bar", barMaxWidth: 16, data: keys.map(function (k) { return d.by_category.today[k]; }),
          itemStyle: { color: "#39c0ff" } },
        { name: "上周同日", type: "bar", barMaxWidth: 16, data: keys.map(function (k) { return d.by_category.last_week[k]; }), itemStyle: { color: "#4d6788" } },
        { name: "去年同日", type: "bar", barMaxWidth: 16, data: keys.map(function (k) { return d.by_category.last_year[k]; }), itemStyle: { color: "#2c405c" } }
      ]
    });
    var hours = []; for (var h = 0; h < 24; h++) hours.push(h + "时");
    var nowHour = QZ.beijingHour(new Date(d.now));
    chart("chart-hourly").setOption({
      animation: false,
      grid: { left: 36, right: 12, top: 34, bottom: 24 },
      legend: { top: 0, textStyle: { color: "#c9d6e8" }, itemWidth: 14, itemHeight: 8 },
      tooltip: { trigger: "axis" },
      xAxis: merge(AXIS, { type: "category", data: hours, boundaryGap: true }),
      yAxis: merge(AXIS, { type: "value", minInterval: 1 }),
      // Hourly counts: today as bars, the comparisons as unsmoothed steps; each series' colour
      // is set on the series so that the legend shows the colour drawn.
      series: [
        { name: "今日", type: "bar", barMaxWidth: 10, data: d.hourly.today.slice(0, nowHour + 1),
          color: "#39c0ff", itemStyle: { color: "#39c0ff" } },
        { name: "上周同日", type: "line", step: "middle", symbol: "none", data: d.hourly.last_week,
          color: "#ffae2b", lineStyle: { color: "#ffae2b", width: 1.5, type: "dashed" }, itemStyle: { color: "#ffae2b" } },
        { name: "去年同日", type: "line", step: "middle", symbol: "none", data: d.hourly.last_year,
          color: "#a9b8cc", lineStyle: { color: "#a9b8cc", width: 1.5, type: "dotted" }, itemStyle: { color: "#a9b8cc" } }
      ]
    });
  }

  function renderOfficerTiles() {
    // Those who may not see officers (the viewer) get the counts of the figures, no positions.
    var c = canOfficers ? officers.counts() : (dash ? dash.officers.by_status : { available: 0, dispatched: 0, on_scene: 0 });
    var office = canOfficers ? c.office : (dash ? dash.officers.office : 0);
    // 在岗警力: street duty only (whom dispatch may send); office staff on duty said apart
    var onDuty = c.available + c.dispatched + c.on_scene + (c.community || 0);
    $("t-duty").textContent = onDuty;
    $("t-duty-split").textContent = "空闲 " + c.available + " · 出警 " + c.dispatched + " · 处警 " + c.on_scene +
      (c.community ? " · 社区警务 " + c.community : "") + (office ? " · 内勤另计 " + office : "");
    $("t-duty-split").title = office ? "另有内勤在岗 " + office + " 人（不上街面，不计入在岗警力）" : "";
    chart("chart-officers").setOption({
      animation: false,
      tooltip: { trigger: "item" },
      legend: { orient: "vertical", right: 8, top: "middle", textStyle: { color: "#c9d6e8" } },
      series: [{
        type: "pie", radius: ["45%", "72%"], center: ["36%", "52%"], label: { show: false },
        data: ["available", "dispatched", "on_scene"].map(function (k) {
          return { name: QZ.OFFICER[k].label + " " + c[k], value: c[k], itemStyle: { color: QZ.OFFICER[k].color } };
        })
      }]
    });
  }

  var dashTimer = null;
  function refreshDashboard() {
    return QZ.api("/api/live/bigscreen").then(renderFigures);
  }
  function scheduleDashboard() {
    if (dashTimer) return;
    dashTimer = setTimeout(function () { dashTimer = null; refreshDashboard(); }, 1500);
  }
  var officerTilesTimer = null;
  function scheduleOfficerTiles() {
    if (officerTilesTimer) return;
    officerTilesTimer = setTimeout(function () { officerTilesTimer = null; renderOfficerTiles(); }, 1000);
  }

  // ---------------------------------------------------------------- data + stream
  function loadIncidents() {
    return QZ.api("/api/live/incidents").then(function (snap) {
      incidents.clear();
      feed = [];
      incidents.upsertMany(snap.items);
      snap.items.forEach(function (f) { upsertFeed(f); });
      renderFeed();
      return snap.event_id;
    });
  }
  var started = Date.now();
  Promise.all([
    base.ready,
    loadIncidents(),
    canOfficers ? QZ.api("/api/live/officers?on_duty=true").then(function (snap) {
      snap.items.forEach(officers.upsert);
      return snap.event_id;
    }) : Promise.resolve(null),
    refreshDashboard()
  ]).then(function (res) {
    var since = res[2] === null ? res[1] : Math.min(res[1], res[2]);
    base.layers.control = QZMap.layerControl(map, base.overlays);  // toggles remembered
    base.layers.control.addOverlay(incidents.group, "警情");
    if (canOfficers) base.layers.control.addOverlay(officers.group, "警力");
    else map.removeLayer(officers.group);
    document.body.setAttribute("data-ready", "1");
    document.body.setAttribute("data-render-ms", String(Date.now() - started));
    setTimeout(function () {  // analysis is slower: after the first render
      base.loadAnalysis().then(function () { document.body.setAttribute("data-analysis", "1"); });
    }, 500);
    QZ.stream(since, {
      "incident": function (f) {
        window.__qz.seen[f.id] = Date.now();
        QZ.ops.onCall(f);
        incidents.upsert(f, !!f.new);
        upsertFeed(f, !!f.new);
        renderFeed();
        scheduleDashboard();
      },
      "incidents.bulk": function () { loadIncidents(); scheduleDashboard(); },
      "officer.positions": function (p) {
        p.items.forEach(officers.upsert);
        window.__qz.lastPositions = Date.now();
      },
      "officer.status": function (o) { officers.upsert(o); scheduleOfficerTiles(); },
      "reload": function () { loadIncidents(); }
    });
  }).catch(function (e) {
    document.body.setAttribute("data-error", e.message);
  });
  setInterval(refreshDashboard, 60000);

  // ---------------------------------------------------------------- call taking, sound, camera
  QZ.ops.muteButton($("mute"));
  var panel = $("calltake-panel");
  var opener = $("open-calltake");
  function showCallTaking(on) {
    if (!panel) return;
    panel.hidden = !on;
    opener.setAttribute("aria-expanded", on ? "true" : "false");
    opener.textContent = on ? "关闭接警录入" : "＋ 接警录入";
    if (on) panel.querySelector("input[name=caller_phone]").focus();
    else opener.focus();
  }
  if (panel) {
    QZ.callForm($("calltake"), { map: map });
    opener.addEventListener("click", function () { showCallTaking(panel.hidden); });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "F2") { ev.preventDefault(); showCallTaking(true); }
      else if (ev.key === "Escape" && !panel.hidden) showCallTaking(false);
    });
  }
  $("camera-close").addEventListener("click", function () { QZ.camera.stop(); $("camera-box").hidden = true; });
  window.addEventListener("resize", function () { for (var k in charts) charts[k].resize(); });
})();
