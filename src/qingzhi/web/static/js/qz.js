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
  function localDate(d) { var p = parts(d); return p.year + "-" + p.month + "-" + p.day; }  // the place's date
  function fmtDuration(s) {
    if (s === null || s === undefined) return "—";
    s = Math.round(s);
    var m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    if (d > 0) return d + "天" + (h % 24) + "小时";  // a call left open for days stays short
    if (h > 0) return h + "小时" + pad(m % 60) + "分";
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
      loadAnalysis: function () { return window.QZ.loadAnalysis({ map: map, layers: layers, overlays: overlays }); }
    };
    // the offline base map, the legend, the scope's view (map_layers.js)
    return window.QZMap ? window.QZMap.attach(handle, el, opts) : handle;
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
    fmtTime: fmtTime, fmtDateTime: fmtDateTime, beijingHour: beijingHour, localDate: localDate, fmtDuration: fmtDuration, baseMap: baseMap,
    incidentLayer: incidentLayer, officerLayer: officerLayer, stream: stream, pulse: pulse
  };
})();
