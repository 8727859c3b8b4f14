/* qingzhi — the vector base map: the Mapbox Vector Tiles of the local MBTiles/PMTiles file drawn
 * by the vendored MapLibre GL JS inside the Leaflet map (the vendored maplibre-gl-leaflet layer),
 * so that the overlays, the toggles and the datum handling stay Leaflet's. map_layers.js loads
 * this file only for a vector file, and it loads MapLibre (1.1 MB of ES module, its worker a
 * module of the same origin: no blob: worker, nothing beyond the CSP's script-src 'self') only
 * then. The style is the server's (/api/basemap/style); it names no glyph server, so MapLibre
 * draws every label from the browser's own fonts. */
(function () {
  "use strict";
  var VENDOR = "/static/vendor/";
  var ML = VENDOR + "maplibre-gl-6.20.0/";
  var PLUGIN = VENDOR + "maplibre-gl-leaflet-0.1.4/leaflet-maplibre-gl.js";
  var loading = null;

  function script(src) {
    return new Promise(function (ok, fail) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = ok;
      s.onerror = function () { fail(new Error("无法加载 " + src)); };
      document.head.appendChild(s);
    });
  }

  // MapLibre GL (an ES module) as the global the Leaflet plugin (UMD) expects, then the plugin.
  function renderer() {
    if (!loading) {
      loading = import(ML + "maplibre-gl.mjs").then(function (ml) {
        window.maplibregl = ml;
        var link = document.createElement("link");
        link.rel = "stylesheet";
        link.href = ML + "maplibre-gl.css";
        document.head.appendChild(link);
        return script(PLUGIN);
      }).then(function () { return L.MaplibreGL; });
    }
    return loading;
  }

  // The GL map follows Leaflet's view; on GCJ-02 tiles its centre is the GCJ-02 point of
  // Leaflet's (WGS-84) centre, so the whole canvas moves by the offset at the view's centre
  // (which changes by ~40 m across a county: the raster layer moves each tile the same way).
  function shifted(Base, toTile) {
    return Base.extend({
      _initGL: function () {
        Base.prototype._initGL.call(this);
        var gl = this._glMap, jump = gl.jumpTo;
        gl.jumpTo = function (o) {
          if (o && o.center) {
            var c = o.center, lat = c.lat !== undefined ? c.lat : c[1], lng = c.lng !== undefined ? c.lng : c[0];
            var t = toTile(lat, lng);
            o = L.extend({}, o, { center: [t[1], t[0]] });
          }
          return jump.call(gl, o);
        };
        this._transformGL(gl);
      }
    });
  }

  // A Leaflet layer group holding the vector base map once MapLibre and the style are in;
  // onReady(glLayer) when it is, onError(message) if it cannot be drawn.
  function layer(info, datumShift, onReady, onError) {
    var group = L.layerGroup();
    Promise.all([renderer(), QZ.api(info.style_url || "/api/basemap/style")]).then(function (res) {
      var Layer = datumShift ? shifted(res[0], datumShift) : res[0];
      var style = res[1];
      Object.keys(style.sources || {}).forEach(function (k) {  // tile URLs absolute, as the worker needs
        var s = style.sources[k];
        if (s.tiles) s.tiles = s.tiles.map(function (u) { return u.charAt(0) === "/" ? window.location.origin + u : u; });
      });
      var gl = new Layer({ style: style, attributionControl: false, className: "qz-basemap qz-basemap-vector" });
      group.addLayer(gl);
      onReady(gl);
    }).catch(function (e) { onError(e && e.message ? e.message : String(e)); });
    return group;
  }

  window.QZVector = { layer: layer, renderer: renderer };
})();
