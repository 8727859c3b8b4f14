/* Call taking (接警录入) on the desk and the big screen: the form of templates/_calltaking.html.
 * While the call is typed, POST /api/incidents/check shows the station it would be routed to
 * and the earlier calls of the caller and of the place (the repeat check); saving posts the
 * call to /api/incidents. The point is typed (with its datum) or picked on the map (WGS-84). */
(function () {
  "use strict";
  var QZ = window.QZ;
  var FIELD_OF = { "location.lon": "lon", "location.lat": "lat", "location.datum": "datum", location: "lon" };

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function sourceId() {
    var d = new Date();
    var stamp = d.getUTCFullYear() + two(d.getUTCMonth() + 1) + two(d.getUTCDate()) + two(d.getUTCHours()) +
      two(d.getUTCMinutes()) + two(d.getUTCSeconds());
    return "JJ-" + stamp + "-" + Math.floor(Math.random() * 1e6).toString(36);
  }

  function number(v) {
    if (v === "" || v === null || v === undefined) return null;
    var x = Number(String(v).trim());
    return isFinite(x) ? x : NaN;
  }

  // form: the <form>; opts.map: a Leaflet map to pick the point on; opts.onSaved(incident).
  function callForm(form, opts) {
    opts = opts || {};
    var subtypes = JSON.parse(form.getAttribute("data-subtypes") || "{}");
    var els = form.elements;
    var marker = null;
    var picking = false;
    var timer = null;
    var seq = 0;

    function fillSubtypes() {
      var opts2 = subtypes[els.category.value] || {};
      els.subtype.innerHTML = '<option value="">（未细分）</option>' + Object.keys(opts2).map(function (k) {
        return '<option value="' + QZ.esc(k) + '">' + QZ.esc(opts2[k]) + "</option>";
      }).join("");
    }
    fillSubtypes();
    els.category.addEventListener("change", fillSubtypes);

    function location() {
      var lon = number(els.lon.value), lat = number(els.lat.value);
      if (lon === null && lat === null) return null;
      return { lon: lon, lat: lat, datum: els.datum.value };
    }

    function draft() {
      var d = { address: els.address.value.trim(), category: els.category.value };
      var phone = els.caller_phone.value.trim();
      if (phone) d.caller_phone = phone;
      var loc = location();
      if (loc && !isNaN(loc.lon) && !isNaN(loc.lat) && loc.lon !== null && loc.lat !== null) d.location = loc;
      return d;
    }

    function earlierList(title, items, place) {
      if (!items.length) return "";
      return '<div class="earlier"><b>' + QZ.esc(title) + "（" + items.length + " 起）</b><ul>" + items.map(function (c) {
        return '<li data-id="' + c.id + '"' + (c.repeat ? ' class="repeat"' : "") + "><a href=\"/incidents/" + c.id + '" target="_blank">' +
          QZ.fmtTime(c.received_at, true) + " " + QZ.esc(c.category_label) + (c.subtype_label ? "·" + QZ.esc(c.subtype_label) : "") +
          "</a> " + QZ.esc(c.address || "") + (place && c.distance_m !== null ? "（" + Math.round(c.distance_m) + " 米）" : "") +
          " · " + QZ.esc(c.status_label) + (c.repeat ? ' <span class="tag">将计为重复报警</span>' : "") + "</li>";
      }).join("") + "</ul></div>";
    }

    function check() {
      var d = draft();
      if (!d.caller_phone && !d.address && !d.location) {
        form.querySelector("[data-route]").textContent = "路由：填写坐标或地址后显示承办单位";
        form.querySelector("[data-earlier]").innerHTML = "";
        return;
      }
      var mine = ++seq;
      QZ.api("/api/incidents/check", { method: "POST", body: d }).then(function (res) {
        if (mine !== seq) return;
        var r = res.route;
        var route = form.querySelector("[data-route]");
        if (r) {
          route.textContent = "路由：" + (r.unit_name || "情指中心待分派") + (r.station_name && r.station_name !== r.unit_name ? "（辖区 " + r.station_name + "）" : "") +
            " · " + r.routed_by_label + (r.review_reason ? " · " + r.review_reason : "");
          route.className = "route" + (r.needs_review ? " review" : "");
          route.setAttribute("data-unit-id", r.unit_id || "");
          if (r.lon !== null && opts.map) showPoint(r.lat, r.lon, false);
        } else {
          route.textContent = "路由：填写坐标或地址后显示承办单位";
          route.className = "route muted";
        }
        var html = earlierList("该号码近 24 小时报警", res.by_caller, false) + earlierList("附近 2 小时内警情", res.by_place, true);
        if (!res.caller_checked && d.caller_phone) html += '<p class="muted">您的角色不能按号码查询历史报警</p>';
        form.querySelector("[data-earlier]").innerHTML = html || '<p class="muted">未发现该号码或该地点的近期报警</p>';
        form.setAttribute("data-checked", String(mine));
      }).catch(function (e) {
        if (mine !== seq) return;
        form.querySelector("[data-route]").textContent = "核查失败：" + e.message;
      });
    }
    function later() { clearTimeout(timer); timer = setTimeout(check, 300); }
    ["caller_phone", "address", "lon", "lat"].forEach(function (n) { els[n].addEventListener("input", later); });
    ["datum", "category"].forEach(function (n) { els[n].addEventListener("change", later); });

    function showPoint(lat, lon, pan) {
      if (!opts.map) return;
      if (!marker) marker = L.circleMarker([lat, lon], { radius: 8, color: "#fff", weight: 2, fillColor: "#ffd400", fillOpacity: 1 }).addTo(opts.map);
      else marker.setLatLng([lat, lon]);
      if (pan) opts.map.panTo([lat, lon]);
    }
    var pick = form.querySelector("[data-pick]");
    if (opts.map && pick) {
      pick.addEventListener("click", function () {
        picking = !picking;
        pick.textContent = picking ? "请点击地图…" : "地图选点";
        opts.map.getContainer().classList.toggle("picking", picking);
      });
      opts.map.on("click", function (ev) {
        if (!picking) return;
        picking = false;
        pick.textContent = "地图选点";
        opts.map.getContainer().classList.remove("picking");
        els.lon.value = ev.latlng.lng.toFixed(6);
        els.lat.value = ev.latlng.lat.toFixed(6);
        els.datum.value = "wgs84";  // the map is drawn in WGS-84
        showPoint(ev.latlng.lat, ev.latlng.lng, false);
        check();
      });
    } else if (pick) {
      pick.hidden = true;
    }

    function fail(message, field) {
      form.querySelector(".ct-error").textContent = message;
      var name = FIELD_OF[field] || field;
      if (name && els[name] && els[name].focus) els[name].focus();
    }

    form.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("reset", function () {
      setTimeout(function () {
        fillSubtypes();
        form.querySelector(".ct-error").textContent = "";
        form.querySelector("[data-earlier]").innerHTML = "";
        form.querySelector("[data-route]").textContent = "路由：填写坐标或地址后显示承办单位";
        if (marker && opts.map) { opts.map.removeLayer(marker); marker = null; }
      }, 0);
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      form.querySelector(".ct-error").textContent = "";
      var body = {
        source_id: sourceId(),
        received_at: new Date().toISOString(),
        category: els.category.value,
        priority: Number(els.priority.value),
        address: els.address.value.trim(),
        description: els.description.value.trim()
      };
      if (els.subtype.value) body.subtype = els.subtype.value;
      var phone = els.caller_phone.value.trim();
      if (phone) body.caller_phone = phone;
      var loc = location();
      if (loc) {
        if (loc.lon === null || isNaN(loc.lon)) return fail("经度须为数字", "lon");
        if (loc.lat === null || isNaN(loc.lat)) return fail("纬度须为数字", "lat");
        body.location = loc;
      }
      var submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      QZ.api("/api/incidents", { method: "POST", body: body }).then(function (res) {
        var inc = res.incident;
        form.querySelector(".ct-saved").innerHTML = '<div class="flash ok">已接警：<a href="/incidents/' + inc.id + '">' +
          QZ.esc(inc.source_id) + "</a> → " + QZ.esc(inc.unit_name || "情指中心待分派") + "</div>";
        QZ.ops.announce("已接警，承办单位 " + (inc.unit_name || "待分派"));
        form.reset();
        els.caller_phone.focus();
        if (opts.onSaved) opts.onSaved(inc);
      }).catch(function (e) {
        var d = e.data && e.data.error && e.data.error.details;
        fail(e.message, d && d[0] ? d[0].field : null);
      }).then(function () { submit.disabled = false; });
    });
    return { check: check };
  }

  QZ.callForm = callForm;
})();
