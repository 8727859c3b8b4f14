/* qingzhi — the map's analysis layers (hotspots, early warnings, the forecast) and issuing a
 * task from them; loaded after qz.js on the map pages (_map_assets.html). */
(function () {
  "use strict";
  var QZ = window.QZ, api = QZ.api, esc = QZ.esc, CATEGORY = QZ.CATEGORY;

  // ------------------------------------------------------------------ analysis layers

  // ctx: { map, layers, overlays } of the base map.
  function addOverlay(ctx, layer, name, show) {
    ctx.overlays[name] = layer;
    if (ctx.layers.control) ctx.layers.control.addOverlay(layer, name);
    if (show) layer.addTo(ctx.map);
  }

  function showLegend(id) {
    var legend = document.getElementById(id);
    if (legend) legend.hidden = false;
  }

  // Issuing from an analysis layer (督办, tasks.js): a popup's links open the board's form with
  // the source (kind and reference) filled in; a special operation takes the area along
  // (sessionStorage "qz.task.area": { area } or { cells }).
  function issuePopup(layer, kind, ref, title, area) {
    var q = "/tasks?source_kind=" + kind + "&source_ref=" + encodeURIComponent(ref) + "&title=" + encodeURIComponent(title);
    layer.bindPopup('<div class="issue-links"><b>' + esc(title) + '</b><br><a class="issue-task" href="' + q + '#issue-panel">下发督办</a> · ' +
      '<a class="issue-operation" href="' + q + '&operation=1#issue-panel">发起专项行动</a></div>');
    layer.on("popupopen", function () {
      try { window.sessionStorage.setItem("qz.task.area", JSON.stringify(area())); } catch (e) { /* private mode */ }
    });
  }
  function today() { return QZ.localDate(new Date()); }  // the place's date (the hot cells' last day)

  // A hot cell and the hot cells touching it, transitively (one hotspot's cells).
  function hotCluster(all, start) {
    var seen = [start], queue = [start];
    while (queue.length) {
      var b = queue.shift().getBounds();
      all.forEach(function (l) {
        if (seen.indexOf(l) < 0 && l.getBounds().intersects(b)) { seen.push(l); queue.push(l); }
      });
    }
    return seen.map(function (l) { return l.feature.geometry; });
  }

  // Hotspots (治安乱点): Gi* hot cells of the last 30 days, when any is significant.
  function loadHotspots(ctx) {
    return api("/api/intel/hotspots?cell=300").then(function (fc) {
      var hot = { type: "FeatureCollection", features: fc.features.filter(function (f) { return f.properties.kind === "hot"; }) };
      if (!hot.features.length) return;
      var layers = ctx.layers;
      layers.hotspots = L.geoJSON(hot, {
        style: function (f) {
          var z = Math.min(f.properties.z, 8);
          return { stroke: false, fillColor: "#ff3b3b", fillOpacity: 0.18 + 0.05 * Math.max(0, z - 2) };
        },
        onEachFeature: function (f, l) {
          var p = f.properties;
          l.bindTooltip("<b>治安乱点</b>（近 30 天，" + fc.properties.cell_m + " 米格）<br>警情 " + p.count +
            " 起 · z = " + Number(p.z).toFixed(2) + " · q = " + (p.q < 0.001 ? p.q.toExponential(1) : Number(p.q).toFixed(3)),
            { sticky: true, className: "hot-tip" });
          issuePopup(l, "hotspot", today() + "/" + fc.properties.cell_m + "/" + p.cell, "治安乱点查处（网格 " + p.cell + "）",
            function () { return { cells: hotCluster(layers.hotspots.getLayers(), l) }; });
        }
      });
      addOverlay(ctx, layers.hotspots, "治安乱点（热点）", true);
      layers.hotspots.bringToBack();
      if (layers.units) layers.units.bringToBack();
      if (layers.county) layers.county.bringToBack();
      showLegend("legend-hot");
    });
  }

  function warningText(scan) {
    return "时空预警：近 " + scan.days + " 天 " + scan.observed + " 起，预期 " +
      Number(scan.expected).toFixed(1) + " 起（p = " + scan.p_value + "）";
  }

  // Early warnings (预警): the space-time scan's cluster when it alarms, and the stations whose
  // weekly control charts alarmed, outlined with what rose.
  function loadWarnings(ctx) {
    return api("/api/intel/warnings").then(function (w) {
      var group = L.featureGroup();
      var scan = w.scan;
      if (scan.alarm && scan.feature) {
        var region = L.geoJSON(scan.feature, {
          style: { color: "#ffb020", weight: 2, dashArray: "5 4", fillColor: "#ffb020", fillOpacity: 0.22 }
        });
        region.bindTooltip(esc(warningText(scan)), { sticky: true, className: "warn-tip" });
        issuePopup(region, "warning", w.end + "/scan", "时空预警核查", function () {
          return { cells: scan.feature.features.map(function (f) { return f.geometry; }) };
        });
        group.addLayer(region);
      }
      var byUnit = {};
      w.control_charts.forEach(function (c) {
        var last = c.alarms[c.alarms.length - 1];
        (byUnit[c.unit_id] = byUnit[c.unit_id] || []).push(
          (CATEGORY[c.category] ? CATEGORY[c.category].label : c.category) + " " + last.week.slice(5) +
          " 周 " + last.count + " 起（基线 " + Number(c.baseline_mean).toFixed(1) + "）");
      });
      if (ctx.layers.units) {
        ctx.layers.units.eachLayer(function (l) {
          var lines = byUnit[l.feature.properties.id];
          if (!lines) return;
          var outline = L.geoJSON(l.feature, {
            style: { color: "#ffb020", weight: 3, fill: false }
          });
          outline.bindTooltip("<b>" + esc(l.feature.properties.name) + " 警情上升</b><br>" +
            lines.map(esc).join("<br>"), { sticky: true, className: "warn-tip" });
          issuePopup(outline, "warning", w.end + "/unit/" + l.feature.properties.id, l.feature.properties.name + "警情上升核查",
            function () { return { area: l.feature.geometry }; });
          group.addLayer(outline);
        });
      }
      var note = document.getElementById("legend-warn-note");
      if (note) {
        note.textContent = (scan.alarm ? "时空聚集 1 处" : "无时空聚集") + " · 单位上升 " +
          Object.keys(byUnit).length + " 个";
      }
      showLegend("legend-warn");
      ctx.layers.warnings = group;
      if (group.getLayers().length) addOverlay(ctx, group, "预警", true);
    });
  }

  // Tomorrow's forecast (the recommended method's top 1% of cells): fetched when switched on.
  // While its model is being fitted the server answers 202 with a background job: the legend
  // shows "预测计算中 N%" from /api/jobs/{id} (polled every 2 s) until the job is done, then
  // the same request draws the layer.
  var FORECAST_URL = "/api/intel/forecast?coverage=1";
  function forecastOverlay(ctx) {
    var group = L.featureGroup();
    var loaded = false;
    function note(text) {
      var el = document.getElementById("legend-forecast-note");
      if (el) el.textContent = text;
      showLegend("legend-forecast");
    }
    function percent(job) { return "预测计算中 " + Math.round(100 * (job.progress || 0)) + "%"; }
    function draw(fc) {
      group.clearLayers();
      group.addLayer(L.geoJSON(fc, {
        style: { stroke: false, fillColor: "#c46bff", fillOpacity: 0.5 },
        onEachFeature: function (f, l) {
          l.bindTooltip("预测第 " + f.properties.rank + " 格 · 历史 " + f.properties.history_count + " 起");
        }
      }));
      note("");
      document.body.setAttribute("data-forecast", String(fc.features.length));
    }
    function later(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }
    function poll(url) {
      return later(2000).then(function () { return api(url); }).then(function (job) {
        if (job.status === "done") return request();
        if (job.status === "failed") {
          loaded = false;
          note("预测失败：" + (job.error || "请稍后重试"));
          return null;
        }
        note(percent(job));
        return poll(url);
      });
    }
    function request() {
      return api(FORECAST_URL).then(function (fc) {
        if (fc.status === "pending" && fc.job) {
          note(percent(fc.job));
          return poll(fc.job.url);
        }
        draw(fc);
        return null;
      });
    }
    group.on("add", function () {
      if (loaded) return;
      loaded = true;
      request().catch(function (e) { loaded = false; note("预测加载失败：" + e.message); });
    });
    addOverlay(ctx, group, "明日预测（前 1% 格）", false);
  }

  // The analysis layers, for users who may read analysis (for others the calls fail and the
  // map has none of them).
  function loadAnalysis(ctx) {
    return Promise.all([loadHotspots(ctx), loadWarnings(ctx)]).then(function () {
      // bottom to top: county, jurisdictions, warnings, hot cells (whose tooltips win), markers
      var l = ctx.layers;
      [l.hotspots, l.warnings, l.units, l.county].forEach(function (x) { if (x) x.bringToBack(); });
      forecastOverlay(ctx);
    }).catch(function () { /* no analysis for this user */ });
  }

  QZ.loadAnalysis = loadAnalysis;
})();
