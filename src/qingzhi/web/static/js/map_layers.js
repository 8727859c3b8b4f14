/* qingzhi — a readable map: the offline base map (tiles served from the local MBTiles/PMTiles
 * file, /api/basemap), officers as counts per station at county zoom and as dots from street
 * zoom, layer toggles remembered (localStorage), a collapsible legend, and the caller's own
 * stations in view (a station chief's screens zoom to the station). Loaded after qz.js; qz.js's
 * baseMap() and officerLayer() call QZMap.attach() and QZMap.officerZoom(). No request leaves the
 * server's own origin. */
(function () {
  "use strict";

  var STREET_ZOOM = 13;  // individual officers from here; counts per station below
  var STORE = "qz.map.";

  function load(key, fallback) {
    try {
      var v = window.localStorage.getItem(STORE + key);
      return v === null ? fallback : JSON.parse(v);
    } catch (e) { return fallback; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(STORE + key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function page() { return window.location.pathname.split("/")[1] || "home"; }

  // ---------------------------------------------------------------- datum (GCJ-02 tiles)
  // The forward WGS-84 -> GCJ-02 offset (the published formula, as qingzhi.geo.datum), for
  // tiles drawn on GCJ-02 (Chinese commercial maps): each tile is moved by the offset at its
  // centre, so that it lines up with the WGS-84 data (the offset varies by ~40 m across a county,
  // well under a pixel between neighbouring tiles from zoom 10 on).
  var A = 6378245.0, EE = 0.00669342162296594323;
  function tLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
    r += (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
    return r;
  }
  function tLon(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
    r += (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
    return r;
  }
  function wgsToGcj(lat, lon) {
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) return [lat, lon];
    var dLat = tLat(lon - 105, lat - 35), dLon = tLon(lon - 105, lat - 35);
    var rad = lat / 180 * Math.PI, m = 1 - EE * Math.sin(rad) * Math.sin(rad), s = Math.sqrt(m);
    dLat = dLat * 180 / ((A * (1 - EE)) / (m * s) * Math.PI);
    dLon = dLon * 180 / (A / s * Math.cos(rad) * Math.PI);
    return [lat + dLat, lon + dLon];
  }
  function gcjToWgs(lat, lon) {  // fixed-point iteration, as the server's inverse
    var w = [lat, lon];
    for (var i = 0; i < 6; i++) {
      var g = wgsToGcj(w[0], w[1]);
      w = [w[0] - (g[0] - lat), w[1] - (g[1] - lon)];
    }
    return w;
  }

  var DatumTileLayer = L.TileLayer.extend({
    _getTilePos: function (coords) {
      var pos = L.TileLayer.prototype._getTilePos.call(this, coords);
      if (this.options.datum !== "gcj02" || !this._map) return pos;
      var size = this.getTileSize();
      var centre = coords.scaleBy(size).add(size.divideBy(2));
      var g = this._map.unproject(centre, coords.z);  // where the tile says it is (GCJ-02)
      var w = gcjToWgs(g.lat, g.lng);               // where that is in WGS-84
      var shift = this._map.project(L.latLng(w[0], w[1]), coords.z).subtract(centre);
      return pos.add(shift.round());
    }
  });

  // ---------------------------------------------------------------- base map tiles
  function addBasemap(handle, info) {
    var map = handle.map;
    document.body.setAttribute("data-basemap", info.configured ? (info.vector ? "vector" : info.format) : "none");
    if (!info.configured) return null;
    var note = L.control.attribution({ prefix: false, position: "bottomright" }).addTo(map);
    var layer = info.vector ? vectorLayer(info, note) : rasterLayer(info);
    afterPageData(function () { layer.addTo(map); });
    note.addAttribution(QZ.esc(info.synthetic ? "模拟底图（合成数据，非真实地理）" : ("底图：" + (info.attribution || info.name))) +
      (info.datum === "gcj02" ? " · GCJ-02 已校正" : ""));
    var name = info.synthetic ? "底图（模拟）" : "底图";
    handle.layers.basemap = layer;
    if (handle.layers.control) handle.layers.control.addOverlay(layer, name);  // made already
    else handle.overlays[name] = layer;
    return layer;
  }

  function loaded(yes) {
    if (yes) document.body.setAttribute("data-basemap-loaded", "1");
    else document.body.removeAttribute("data-basemap-loaded");
  }

  function rasterLayer(info) {
    var b = info.bounds;
    var layer = new DatumTileLayer(info.tile_url, {
      minZoom: 0, maxZoom: 18,
      minNativeZoom: info.minzoom, maxNativeZoom: info.maxzoom,
      bounds: L.latLngBounds([b[1], b[0]], [b[3], b[2]]),
      datum: info.datum, keepBuffer: 1, className: "qz-basemap"
    });
    layer.on("loading", function () { loaded(false); });
    layer.on("load", function () { loaded(true); });
    return layer;
  }

  // Vector tiles: drawn by the vendored MapLibre GL (map_vector.js, loaded only for them) in a
  // layer group that takes the GL layer once the renderer and the style are in.
  function vectorLayer(info, note) {
    var group = L.layerGroup();
    var vendor = window.QZVector ? Promise.resolve() : new Promise(function (ok, fail) {
      var s = document.createElement("script");
      s.src = "/static/js/map_vector.js";
      s.onload = ok;
      s.onerror = function () { fail(new Error("无法加载矢量渲染器")); };
      document.head.appendChild(s);
    });
    function failed(message) {
      document.body.setAttribute("data-basemap-error", message);
      note.addAttribution(QZ.esc("矢量底图无法显示：" + message));
    }
    function watch(gl) {
      var m = gl.getMaplibreMap && gl.getMaplibreMap();
      if (!m || m._qzWatched) return;
      m._qzWatched = true;
      m.on("dataloading", function () { loaded(false); });
      m.on("idle", function () { loaded(true); });
      m.on("error", function (e) { if (e && e.error) document.body.setAttribute("data-basemap-error", String(e.error.message || e.error)); });
    }
    vendor.then(function () {
      var shift = info.datum === "gcj02" ? wgsToGcj : null;
      var inner = window.QZVector.layer(info, shift, function (gl) {
        gl.on("add", function () { watch(gl); });
        watch(gl);
      }, failed);
      group.addLayer(inner);
    }, function (e) { failed(e.message); });
    return group;
  }

  // The tiles are asked for once the page has drawn its own data (every page marks itself
  // body[data-ready]; at most 3 s later in any case), so that they do not compete with the
  // page's data requests for the browser's few connections and the server's time.
  function afterPageData(fn) {
    if (document.body.hasAttribute("data-ready")) { fn(); return; }
    var done = false;
    function once() { if (!done) { done = true; obs.disconnect(); fn(); } }
    var obs = new MutationObserver(function () { if (document.body.hasAttribute("data-ready")) once(); });
    obs.observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
    setTimeout(once, 3000);
  }

  // The county and the jurisdictions are drawn lighter over a base map (it has its own land).
  function lighten(handle) {
    var l = handle.layers;
    if (l.county) l.county.setStyle({ fillOpacity: 0 });
    if (l.units) l.units.eachLayer(function (u) { u.setStyle({ fillOpacity: u.options.fillOpacity * 0.45 }); });
  }

  // ---------------------------------------------------------------- legend
  function legend(el, onToggle) {
    var wrap = el.parentElement;
    var box = wrap && wrap.querySelector(".legend");
    if (!box || box.getAttribute("data-collapsible")) return;
    box.setAttribute("data-collapsible", "1");
    var title = box.querySelector(".legend-title");
    var btn = document.createElement("button");
    btn.type = "button";
    btn.className = "legend-toggle";
    btn.textContent = "图例";
    if (title) title.replaceWith(btn); else box.insertBefore(btn, box.firstChild);
    // Small screens (1366×768 and below) start with the legend folded; the choice is remembered.
    var small = window.innerWidth < 1600 || window.innerHeight < 900;
    var folded = load("legend.folded", small);
    function set(f) {
      box.classList.toggle("folded", f);
      btn.setAttribute("aria-expanded", f ? "false" : "true");
      btn.title = f ? "展开图例" : "收起图例";
    }
    set(folded);
    btn.addEventListener("click", function () {
      folded = !box.classList.contains("folded");
      set(folded);
      save("legend.folded", folded);
      if (onToggle) onToggle();
    });
    // the legend grows when the analysis layers arrive: the view keeps clear of it
    if (onToggle && window.ResizeObserver) new ResizeObserver(function () { onToggle(); }).observe(box);
    return box;
  }

  // ---------------------------------------------------------------- fitting the view
  // Whole-bureau users see the county; others (a station chief, an officer) their own
  // jurisdictions; the legend's corner is kept clear.
  function fit(handle, el, opts) {
    var l = handle.layers;
    if (handle.map._animatingZoom) {  // qz.js's own first fit still zooming: after it
      handle.map.once("zoomend", function () { fit(handle, el, opts); });
      return;
    }
    var scoped = document.body.getAttribute("data-scope") === "unit" || opts.fitUnits;
    var target = scoped && l.units && l.units.getLayers().length ? l.units : (l.county && l.county.getLayers().length ? l.county : l.units);
    if (!target) return;
    var bounds = target.getBounds();
    if (!bounds.isValid()) return;
    var box = el.parentElement && el.parentElement.querySelector(".legend");
    var lw = box && !box.hidden ? box.offsetWidth : 0, lh = box && !box.hidden ? box.offsetHeight : 0;
    // keep clear of the legend (bottom left) by its width or by its height, whichever loses less
    var map = handle.map;
    var beside = { paddingTopLeft: [12 + lw, 12], paddingBottomRight: [12, 12] };
    var above = { paddingTopLeft: [12, 12], paddingBottomRight: [12, 12 + lh] };
    var zBeside = map.getBoundsZoom(bounds, false, L.point(24 + lw, 24));
    var zAbove = map.getBoundsZoom(bounds, false, L.point(24, 24 + lh));
    var pad = zBeside >= zAbove ? beside : above;
    map.fitBounds(bounds, { paddingTopLeft: pad.paddingTopLeft, paddingBottomRight: pad.paddingBottomRight, animate: false });
    handle.fitted = handle.map.getCenter().toString() + "@" + handle.map.getZoom();
    document.body.setAttribute("data-map-fit", scoped ? "units" : "county");
  }
  // When the legend is unfolded or grows, the view is fitted again beside it, unless the user
  // has moved the map since.
  function refit(handle, el, opts) {
    if (handle.fitted === handle.map.getCenter().toString() + "@" + handle.map.getZoom()) fit(handle, el, opts);
  }

  function attach(handle, el, opts) {
    opts = opts || {};
    handle.map._qzBase = handle;
    legend(el, function () { refit(handle, el, opts); });
    var external = opts.tileUrl || el.getAttribute("data-tile-url") ||
      (document.getElementById("screen") || el).getAttribute("data-tile-url");
    var meta = external ? Promise.resolve(null) : QZ.api("/api/basemap").catch(function () { return null; });
    var ready = handle.ready;
    handle.ready = ready.then(function (res) { fit(handle, el, opts); return res; });
    // the base map is not waited for: it comes in under the data when it can
    Promise.all([handle.ready, meta]).then(function (res) {
      if (res[1] && addBasemap(handle, res[1])) lighten(handle);
    });
    return handle;
  }

  // ---------------------------------------------------------------- layer toggles
  // A layers control whose toggles are remembered per page; an overlay added later (analysis
  // layers) takes its remembered state too, and a layer the user switched off stays off.
  function layerControl(map, overlays, options) {
    var key = "layers." + page();
    var saved = load(key, {});
    var control = L.control.layers(null, overlays, options || { collapsed: true, position: "topright" }).addTo(map);
    var byName = {};
    function apply(layer, name) {
      byName[name] = layer;
      if (!Object.prototype.hasOwnProperty.call(saved, name)) return;
      if (saved[name] && !map.hasLayer(layer)) map.addLayer(layer);
      else if (!saved[name] && map.hasLayer(layer)) map.removeLayer(layer);
    }
    var add = control.addOverlay;
    control.addOverlay = function (layer, name) {
      add.call(control, layer, name);
      apply(layer, name);
      return control;
    };
    Object.keys(overlays).forEach(function (name) { apply(overlays[name], name); });
    function changed(on) {
      return function (e) {
        if (control._handlingClick) {  // the user's click on the control
          saved[e.name] = on;
          save(key, saved);
        } else if (saved[e.name] === !on) {  // the page's own add or remove: the user's choice wins
          setTimeout(function () { apply(e.layer, e.name); }, 0);
        }
      };
    }
    map.on("overlayadd", changed(true));
    map.on("overlayremove", changed(false));
    return control;
  }

  // ---------------------------------------------------------------- officers by zoom
  // Below STREET_ZOOM the officers layer shows one badge per station: the number on duty, a
  // ring split by status, the split in its tooltip; from STREET_ZOOM the officers themselves.
  function officerZoom(map, h) {
    var counts = L.layerGroup();
    var timer = null;
    var street = false;
    function schedule() {  // positions arrive in batches: one redraw per batch
      if (street || timer) return;
      timer = setTimeout(function () { timer = null; if (!street && map.hasLayer(h.group)) refresh(); }, 250);
    }
    var upsert = h.upsert;
    h.upsert = function (o) { upsert(o); schedule(); };
    function anchors() {
      var base = map._qzBase, out = {};
      if (base && base.layers.units) {
        base.layers.units.eachLayer(function (l) {
          out[l.feature.properties.id] = { at: l.getCenter(), name: l.feature.properties.name };
        });
      }
      return out;
    }
    function badge(c, name) {
      var n = c.available + c.dispatched + c.on_scene;
      var a = 100 * c.available / n, d = a + 100 * c.dispatched / n;
      var bar = "linear-gradient(90deg," + QZ.OFFICER.available.color + " 0 " + a + "%," +
        QZ.OFFICER.dispatched.color + " " + a + "% " + d + "%," + QZ.OFFICER.on_scene.color + " " + d + "% 100%)";
      var icon = L.divIcon({
        className: "qz-officer-count",
        html: '<div><span>警力 ' + n + '</span><i style="background:' + bar + '"></i></div>',
        iconSize: [56, 22], iconAnchor: [28, -9]  // below the station's name
      });
      var m = L.marker(c.at, { icon: icon, keyboard: false });
      m.bindTooltip(QZ.esc(name) + "：在岗 " + n + " 人<br>空闲 " + c.available + " · 出警 " + c.dispatched +
        " · 处警 " + c.on_scene + "<br><span class=\"muted\">放大到街道级显示每位警员</span>");
      m.on("click", function () { map.setView(c.at, STREET_ZOOM); });
      return m;
    }
    function refresh() {
      counts.clearLayers();
      var at = anchors(), per = {};
      Object.keys(h.data).forEach(function (id) {
        var o = h.data[id];
        if (o.lon === null || o.lon === undefined || o.status === "off_duty" || o.street === false || !(o.status in QZ.OFFICER)) return;
        var key = at[o.unit_id] ? o.unit_id : "u" + o.unit_id;
        var c = per[key] = per[key] || { available: 0, dispatched: 0, on_scene: 0, lat: 0, lon: 0, n: 0, name: o.unit };
        c[o.status]++;
        c.lat += o.lat; c.lon += o.lon; c.n++;
      });
      var total = 0;
      Object.keys(per).forEach(function (key) {
        var c = per[key];
        c.at = at[key] ? at[key].at : L.latLng(c.lat / c.n, c.lon / c.n);
        counts.addLayer(badge(c, at[key] ? at[key].name : c.name));
        total += c.n;
      });
      document.body.setAttribute("data-officer-badges", String(counts.getLayers().length));
      document.body.setAttribute("data-officer-badge-total", String(total));
    }
    function mode() {
      street = map.getZoom() >= STREET_ZOOM;
      if (street) {
        if (h.group.hasLayer(counts)) h.group.removeLayer(counts);
        if (!h.group.hasLayer(h.dots)) h.group.addLayer(h.dots);
      } else {
        if (h.group.hasLayer(h.dots)) h.group.removeLayer(h.dots);
        refresh();
        if (!h.group.hasLayer(counts)) h.group.addLayer(counts);
      }
      document.body.setAttribute("data-officer-view", street ? "dots" : "counts");
    }
    map.on("zoomend", mode);
    h.group.on("add", schedule);
    if (map._qzBase) map._qzBase.ready.then(schedule);  // the stations' places are known
    mode();
    h.countLayer = counts;
    h.refreshCounts = refresh;
    return h;
  }

  window.QZMap = {
    attach: attach, layerControl: layerControl, officerZoom: officerZoom, DatumTileLayer: DatumTileLayer,
    wgsToGcj: wgsToGcj, gcjToWgs: gcjToWgs, STREET_ZOOM: STREET_ZOOM
  };
})();
