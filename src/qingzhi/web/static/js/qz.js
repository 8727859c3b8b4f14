/* qingzhi — shared browser code: API calls, colours, the offline base map, live layers, SSE.
 * No inline scripts (the CSP forbids them): pages pass data through data-* attributes. */
(function () {
  "use strict";

  var CATEGORY = {
    criminal: { label: "刑事", color: "#ff4d5e" },
    public_order: { label: "治安", color: "#ffae2b" },
    traffic: { label: "交通", color: "#3ea6ff" },
    dispute: { label: "纠纷", color: "#b57bff" },
    assistance: { label: "求助", color: "#2fd6a3" }
  };
  var OFFICER = {
    available: { label: "空闲", color: "#37e27b" },
    dispatched: { label: "出警中", color: "#ffb020" },
    on_scene: { label: "处警中", color: "#ff5470" },
    off_duty: { label: "不在岗", color: "#66758c" }
  };
  var BUNDLE_COLORS = ["#1f6feb", "#8957e5", "#1a7f64", "#bf8700", "#cf222e", "#0a7ea4",
    "#a0499e", "#6e7781", "#2da44e", "#d4a72c", "#e16f24", "#218bff"];

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function api(url, opts) {
    opts = opts || {};
    var headers = { "Accept": "application/json" };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.method && opts.method !== "GET") headers["X-CSRF-Token"] = csrf();
    return fetch(url, {
      method: opts.method || "GET",
      headers: headers,
      credentials: "same-origin",
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var msg = data && data.error ? data.error.message : ("请求失败：" + r.status);
          var err = new Error(msg); err.status = r.status; err.data = data; throw err;
        }
        return data;
      });
    });
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // Times are shown in the place's time zone (the bureau's, from `qingzhi place init`; the
  // page's qz-timezone meta) whatever the browser's own zone.
  var tzMeta = document.querySelector('meta[name="qz-timezone"]');
  var TZ = (tzMeta && tzMeta.content) || "Asia/Shanghai";
  var partsFmt = new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
  });
  function parts(d) {
    var o = {};
    partsFmt.formatToParts(d).forEach(function (p) { o[p.type] = p.value; });
    return o;
  }
  function fmtTime(iso, withDate) {
    if (!iso) return "—";
    var p = parts(new Date(iso));
    var t = p.hour + ":" + p.minute + ":" + p.second;
    return withDate ? (p.month + "-" + p.day + " " + t) : t;
  }
  function fmtDateTime(d) {
    var p = parts(d);
    return p.year + "年" + Number(p.month) + "月" + Number(p.day) + "日 " + p.hour + ":" + p.minute + ":" + p.second;
  }
  function beijingHour(d) { return Number(parts(d).hour); }
  function fmtDuration(s) {
    if (s === null || s === undefined) return "—";
    s = Math.round(s);
    var m = Math.floor(s / 60);
    return m > 0 ? (m + "分" + pad(s % 60) + "秒") : (s + "秒");
  }
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // ------------------------------------------------------------------ base map (local GeoJSON)

  function baseMap(el, opts) {
    opts = opts || {};
    var map = L.map(el, {
      preferCanvas: true, zoomControl: true, attributionControl: false,
      minZoom: 7, maxZoom: 18, zoomSnap: 0.25
    });
    var tileUrl = opts.tileUrl || el.getAttribute("data-tile-url") ||
      (document.getElementById("screen") || el).getAttribute("data-tile-url");
    if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 18 }).addTo(map);
    map.setView([30.33, 107.35], 10);
    var layers = {};
    var overlays = {};
    var ready = Promise.all([
      api("/api/org/layers/county"), api("/api/org/layers/units"), api("/api/org/layers/zones")
    ]).then(function (res) {
      var county = res[0], units = res[1], zones = res[2];
      layers.county = L.geoJSON(county, {
        interactive: false,
        style: { color: "#5cc8ff", weight: 3, fillColor: "#0c2746", fillOpacity: tileUrl ? 0.05 : 0.55 }
      }).addTo(map);
      var groupOf = {};
      var groups = [];
      units.features.forEach(function (f) {
        var g = f.properties.central_id || f.properties.id;
        if (groups.indexOf(g) < 0) groups.push(g);
        groupOf[f.properties.id] = g;
      });
      layers.units = L.geoJSON(units, {
        style: function (f) {
          var g = groupOf[f.properties.id];
          var bundled = !!f.properties.central_id;
          return {
            color: "#7fb6e6", weight: 1.2, dashArray: bundled ? null : "4 3",
            fillColor: BUNDLE_COLORS[groups.indexOf(g) % BUNDLE_COLORS.length],
            fillOpacity: bundled ? 0.28 : 0.12
          };
        },
        onEachFeature: function (f, layer) {
          // A jurisdiction derived from the calls' district column is marked as such.
          var label = esc(f.properties.name.replace("派出所", "")) +
            (f.properties.derived ? "（推算辖区）" : "");
          layer.bindTooltip(label, {
            permanent: true, direction: "center", className: "unit-label"
          });
          layer.on("click", function () {
            if (opts.onUnit) opts.onUnit(f.properties);
          });
        }
      }).addTo(map);
      layers.zones = L.geoJSON(zones, {
        interactive: false,
        style: { color: "#9fd3ff", weight: 0.8, dashArray: "2 3", fill: false }
      });
      overlays["派出所辖区"] = layers.units;
      overlays["社区片区"] = layers.zones;
      var bounds = (units.features.length && !county.features.length ? layers.units : layers.county).getBounds();
      if (units.features.length && opts.fitUnits) bounds = layers.units.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], animate: false });
      map.on("zoomend", function () {
        var z = map.getZoom();
        el.classList.toggle("labels-small", z < 10);
        if (z >= 13 && !map.hasLayer(layers.zones)) layers.zones.addTo(map);
      });
      return { county: county, units: units, zones: zones };
    });
    var handle = {
      map: map, layers: layers, overlays: overlays, ready: ready,
      loadAnalysis: function () { return loadAnalysis({ map: map, layers: layers, overlays: overlays }); }
    };
    // the offline base map, the legend, the scope's view (map_layers.js)
    return window.QZMap ? window.QZMap.attach(handle, el, opts) : handle;
  }

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
  function today() { return new Date(Date.now() + 8 * 3600000).toISOString().slice(0, 10); }  // Beijing date

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

  // ------------------------------------------------------------------ incidents layer

  function incidentStyle(f) {
    var c = (CATEGORY[f.cat] || CATEGORY.assistance).color;
    if (f.open) return { radius: f.priority <= 1 ? 8 : 6.5, color: "#ffffff", weight: 1.5, fillColor: c, fillOpacity: 0.95 };
    return { radius: 5, color: c, weight: 1.5, fillColor: c, fillOpacity: 0.15 };
  }

  function incidentPopup(f) {
    return '<div class="pop"><b>' + esc(f.cat_label) + (f.sub_label ? " · " + esc(f.sub_label) : "") +
      '</b><br>' + esc(f.address || "") + '<br>' + fmtTime(f.at, true) + ' · <span class="st-' + esc(f.status) + '">' +
      esc(f.status_label) + '</span><br><a href="/incidents/' + f.id + '">详情 / 派警 »</a></div>';
  }

  function incidentLayer(map, opts) {
    opts = opts || {};
    var group = L.markerClusterGroup({
      maxClusterRadius: 45, disableClusteringAtZoom: 14, showCoverageOnHover: false,
      spiderfyOnMaxZoom: true, chunkedLoading: true,
      iconCreateFunction: function (cluster) {
        var n = cluster.getChildCount();
        var open = 0;
        cluster.getAllChildMarkers().forEach(function (m) { if (m.feature && m.feature.open) open++; });
        var size = n < 10 ? 30 : n < 100 ? 38 : 46;
        return L.divIcon({
          html: "<div><span>" + n + "</span></div>",
          className: "qz-cluster" + (open ? " has-open" : ""),
          iconSize: L.point(size, size)
        });
      }
    });
    group.addTo(map);
    var markers = {};
    // The marker of f (made, not yet in the group), or the existing one updated; the popup is
    // written when it opens (500 popups written up front cost the first render ~40 ms).
    function place(f) {
      if (f.lon === null || f.lat === null || f.valid === false) return null;
      var m = markers[f.id];
      if (m) {
        m.feature = f;
        m.setStyle(incidentStyle(f));
        if (m.isPopupOpen()) m.getPopup().update();  // its content function reads m.feature
        return m;
      }
      m = L.circleMarker([f.lat, f.lon], incidentStyle(f));
      m.feature = f;
      m.bindPopup(function () { return incidentPopup(m.feature); });
      if (opts.onClick) m.on("click", function () { opts.onClick(f.id); });
      markers[f.id] = m;
      m._qzNew = true;
      return m;
    }
    function upsert(f, flash) {
      var m = place(f);
      if (m && m._qzNew) {
        delete m._qzNew;
        group.addLayer(m);
        if (flash) pulse(map, [f.lat, f.lon], (CATEGORY[f.cat] || CATEGORY.assistance).color);
      }
      return m;
    }
    // A snapshot: the new markers join the cluster group in one addLayers (clustered once,
    // not once per marker: the first render's longest task).
    function upsertMany(list) {
      var fresh = [];
      list.forEach(function (f) {
        var m = place(f);
        if (m && m._qzNew) { delete m._qzNew; fresh.push(m); }
      });
      group.addLayers(fresh);
    }
    function clear() { group.clearLayers(); markers = {}; }
    return { group: group, markers: function () { return markers; }, upsert: upsert, upsertMany: upsertMany, clear: clear };
  }

  function pulse(map, latlng, color) {
    var icon = L.divIcon({ className: "qz-pulse", html: '<i style="border-color:' + color + '"></i>', iconSize: [44, 44] });
    var m = L.marker(latlng, { icon: icon, interactive: false, keyboard: false }).addTo(map);
    setTimeout(function () { map.removeLayer(m); }, 12000);
  }

  // ------------------------------------------------------------------ officers layer

  function officerLayer(map, opts) {
    opts = opts || {};
    var group = L.layerGroup().addTo(map);  // the 警力 toggle: dots (street zoom) or counts
    var dots = L.layerGroup().addTo(group);
    var markers = {};
    var data = {};
    // Community-team officers out of the dispatch rota (退出大轮班): a purple ring.
    function style(st, o) {
      var c = (OFFICER[st] || OFFICER.available).color;
      var off = o && o.in_rota === false;
      return { radius: off ? 5.5 : 4.5, color: off ? "#b57bff" : "#0b1522", weight: off ? 2 : 1, fillColor: c, fillOpacity: 0.95 };
    }
    function tip(o) {
      return esc(o.name) + "（" + esc(o.no) + "）<br>" + esc(o.unit) + " · " + esc((OFFICER[o.status] || {}).label || o.status) +
        (o.in_rota === false ? "<br>社区警务队（不在大轮班，本片区就近处警）" : "") +
        (o.camera_url ? "<br>点击查看执法记录仪" : "");
    }
    function upsert(o) {
      var prev = data[o.id] || {};
      for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) prev[k] = o[k];
      o = data[o.id] = prev;
      var m = markers[o.id];
      // office staff (street: false) are not dispatchable: off the map, as off duty is
      var show = o.lon !== null && o.lon !== undefined &&
        ((o.status !== "off_duty" && o.street !== false) || opts.showOffDuty);
      if (!show) {
        if (m) { dots.removeLayer(m); delete markers[o.id]; }
        return;
      }
      if (!m) {
        m = markers[o.id] = L.circleMarker([o.lat, o.lon], style(o.status, o));
        m.bindTooltip(tip(o));
        if (opts.onClick) m.on("click", function () { opts.onClick(data[o.id]); });  // body camera
        dots.addLayer(m);
      } else {
        m.setLatLng([o.lat, o.lon]);
        m.setStyle(style(o.status, o));
        m.setTooltipContent(tip(o));
      }
    }
    function counts() {
      var c = { available: 0, dispatched: 0, on_scene: 0, off_duty: 0, community: 0, office: 0 };
      for (var id in data) {
        var o = data[id];
        if (o.street === false && o.status !== "off_duty") c.office += 1;  // on duty, not street
        else if (o.status === "available" && o.in_rota === false) c.community += 1;
        else c[o.status] = (c[o.status] || 0) + 1;
      }
      return c;
    }
    var handle = { group: group, dots: dots, upsert: upsert, data: data, counts: counts, markers: markers };
    // counts per station at county zoom, officers from street zoom (map_layers.js)
    return window.QZMap && !opts.dotsOnly ? window.QZMap.officerZoom(map, handle) : handle;
  }

  // ------------------------------------------------------------------ live stream

  function stream(since, handlers) {
    var url = "/api/live/stream" + (since !== null && since !== undefined ? "?since=" + since : "");
    var es = new EventSource(url, { withCredentials: true });
    var state = document.getElementById("live-state");
    function setState(ok) {
      if (!state) return;
      state.className = "live-state " + (ok ? "on" : "off");
      state.textContent = ok ? "● 实时" : "● 重连中";
    }
    es.onopen = function () { setState(true); };
    es.onerror = function () { setState(false); };
    // the token or session was revoked or has expired: sign in again
    es.addEventListener("signed_out", function () {
      es.close();
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
    });
    Object.keys(handlers).forEach(function (kind) {
      es.addEventListener(kind, function (ev) {
        window.__qzLastEventId = ev.lastEventId;
        try { handlers[kind](JSON.parse(ev.data), ev); } catch (e) { if (window.console) console.error(e); }
      });
    });
    return es;
  }

  window.QZ = {
    CATEGORY: CATEGORY, OFFICER: OFFICER, api: api, csrf: csrf, esc: esc,
    fmtTime: fmtTime, fmtDateTime: fmtDateTime, beijingHour: beijingHour, fmtDuration: fmtDuration, baseMap: baseMap,
    incidentLayer: incidentLayer, officerLayer: officerLayer, stream: stream, pulse: pulse
  };
})();
