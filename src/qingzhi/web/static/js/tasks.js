/* qingzhi — the 督办 board and a task's page: list with filters (overdue in red), issue, steps,
 * progress reports with attachments. Live: the board reloads on every task event of the stream. */
(function () {
  "use strict";
  var QZ = window.QZ;

  function whenAll(root) {
    (root || document).querySelectorAll(".when[data-iso]").forEach(function (el) {
      el.textContent = QZ.fmtTime(el.getAttribute("data-iso"), true);
    });
  }

  function left(hours) {
    if (hours < 0) return "逾期 " + Math.ceil(-hours) + " 小时";
    if (hours < 24) return "剩 " + Math.max(0, Math.floor(hours)) + " 小时";
    return "剩 " + Math.floor(hours / 24) + " 天";
  }

  // ---------------------------------------------------------------- board
  function board(root) {
    var form = document.getElementById("filters");
    var tbody = document.querySelector("#tasks tbody");
    var counts = document.getElementById("counts");
    function query() {
      var p = new URLSearchParams();
      new FormData(form).forEach(function (v, k) { if (v) p.append(k, v); });
      p.set("limit", "200");
      return "/api/tasks?" + p.toString();
    }
    function load() {
      return QZ.api(query()).then(function (page) {
        counts.textContent = "共 " + page.total + " 项；逾期 " + page.overdue + " 项；24小时内到期 " + page.due_soon + " 项";
        if (!page.items.length) { tbody.innerHTML = '<tr><td colspan="7" class="muted">没有督办任务</td></tr>'; return; }
        tbody.innerHTML = page.items.map(function (t) {
          var flags = [];
          if (t.overdue) flags.push('<span class="badge overdue-badge">' + QZ.esc(left((new Date(t.deadline) - Date.now()) / 3600000)) + "</span>");
          else if (t.due_soon) flags.push('<span class="badge soon-badge">' + QZ.esc(left((new Date(t.deadline) - Date.now()) / 3600000)) + "</span>");
          if (t.feedback_missed) flags.push('<span class="badge soon-badge">未按期反馈</span>');
          if (t.escalated_to.length) flags.push('<span class="muted">已升级：' + QZ.esc(t.escalated_to.join("、")) + "</span>");
          return '<tr class="' + (t.overdue ? "overdue" : "") + '" data-id="' + t.id + '">' +
            "<td>" + QZ.esc(t.priority_label) + "</td>" +
            '<td><a href="/tasks/' + t.id + '">' + QZ.esc(t.title) + "</a></td>" +
            "<td>" + QZ.esc(t.source_label) + (t.source_url ? ' <a href="' + QZ.esc(t.source_url) + '">#' + QZ.esc(t.source_ref) + "</a>" : "") + "</td>" +
            "<td>" + QZ.esc(t.owner_unit.name) + "</td>" +
            '<td><span class="badge task-st ts-' + t.status + '">' + QZ.esc(t.status_label) + "</span></td>" +
            "<td>" + QZ.esc(QZ.fmtTime(t.deadline, true)) + "</td>" +
            "<td>" + flags.join(" ") + "</td></tr>";
        }).join("");
      }).catch(function (e) { tbody.innerHTML = '<tr><td colspan="7" class="error">' + QZ.esc(e.message) + "</td></tr>"; });
    }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
    form.addEventListener("change", function () { load(); });
    load().then(function () { document.body.setAttribute("data-ready", "1"); });
    setInterval(load, 60000);  // overdue and due soon follow the clock
    QZ.stream(null, { task: function () { load(); } });

    var issue = document.getElementById("issue-form");
    if (issue) {
      var dl = issue.querySelector('[name="deadline"]');
      var d = new Date(Date.now() + 3 * 86400000);
      dl.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      var area = prefill(issue);
      issue.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var f = new FormData(issue);
        var msg = document.getElementById("issue-msg");
        var body = {
          title: f.get("title"), instructions: f.get("instructions") || "",
          owner_unit_id: Number(f.get("owner_unit_id")),
          deadline: new Date(f.get("deadline")).toISOString(),
          priority: Number(f.get("priority"))
        };
        if (f.get("feedback_hours")) body.feedback_hours = Number(f.get("feedback_hours"));
        if (f.get("source_kind") !== "none") { body.source_kind = f.get("source_kind"); body.source_ref = f.get("source_ref"); }
        var url = "/api/tasks";
        if (f.get("operation")) {
          url = "/api/tasks/operations";
          body.starts_on = f.get("starts_on"); body.ends_on = f.get("ends_on");
          body.ring_m = Number(f.get("ring_m"));
          var a = area.area;
          if (a && a.cells) body.cells = a.cells; else body.area = a ? a.area : null;
        }
        QZ.api(url, { method: "POST", body: body }).then(function (t) {
          window.location.href = "/tasks/" + t.id;
        }).catch(function (e) { msg.className = "error"; msg.textContent = e.message; });
      });
    }
  }

  // The form opened from a map layer (qz.js issuePopup): source, title and, for a special
  // operation, the area (sessionStorage) and a period from today for two weeks.
  function prefill(form) {
    var p = new URLSearchParams(window.location.search);
    var fields = document.getElementById("operation-fields");
    var box = form.querySelector('[name="operation"]');
    box.addEventListener("change", function () { fields.hidden = !box.checked; });
    var day = function (offset) { return new Date(Date.now() + 8 * 3600000 + offset * 86400000).toISOString().slice(0, 10); };
    form.querySelector('[name="starts_on"]').value = day(0);
    form.querySelector('[name="ends_on"]').value = day(13);
    var area = null;
    // only when opened from a map layer (a stale area of an earlier popup is not taken along)
    try { area = p.get("source_kind") ? JSON.parse(window.sessionStorage.getItem("qz.task.area") || "null") : null; } catch (e) { area = null; }
    if (area) {
      document.getElementById("operation-area").textContent = area.cells ? "区域：治安乱点 " + area.cells.length + " 个网格" : "区域：地图所选范围";
    }
    if (p.get("source_kind")) {
      form.querySelector('[name="source_kind"]').value = p.get("source_kind");
      form.querySelector('[name="source_ref"]').value = p.get("source_ref") || "";
      var src = document.getElementById("issue-source");
      src.hidden = false;
      src.textContent = "来源：" + ({ hotspot: "治安乱点", warning: "预警" }[p.get("source_kind")] || p.get("source_kind")) + " " + (p.get("source_ref") || "");
      if (p.get("title")) form.querySelector('[name="title"]').value = p.get("title");
    }
    if (p.get("operation") && area) { box.checked = true; fields.hidden = false; }
    var holder = { area: area };
    var drawn = false;
    function showDraw() {
      if (fields.hidden || drawn) return;
      drawn = true;
      drawArea(document.getElementById("draw-map"), area, function (a, n) {
        holder.area = a;
        document.getElementById("operation-area").textContent = a ? "区域：已绘制 " + n + " 个顶点" : "区域：请至少点击 3 个顶点";
      });
    }
    box.addEventListener("change", showDraw);
    showDraw();
    return holder;
  }

  // A polygon drawn by clicking its corners on a small map (Leaflet only); ``given`` (an area
  // brought from the map's layers) is shown until the first click starts a new one.
  function drawArea(el, given, changed) {
    var base = QZ.baseMap(el, {});
    var map = base.map, pts = [], shape = null, shown = null;
    map.doubleClickZoom.disable();
    base.ready.then(function () {
      if (!given) return;
      var g = given.cells ? { type: "FeatureCollection", features: given.cells.map(function (c) { return { type: "Feature", geometry: c, properties: {} }; }) } : given.area;
      shown = L.geoJSON(g, { style: { color: "#ff4d5e", weight: 2, fillOpacity: 0.15 } }).addTo(map);
      map.fitBounds(shown.getBounds(), { padding: [24, 24] });
    });
    function redraw() {
      if (shape) map.removeLayer(shape);
      shape = pts.length ? L.polygon(pts.map(function (q) { return [q[1], q[0]]; }), { color: "#ff4d5e", weight: 2, fillOpacity: 0.15 }).addTo(map) : null;
      changed(pts.length >= 3 ? { area: { type: "Polygon", coordinates: [pts.concat([pts[0]])] } } : null, pts.length);
    }
    map.on("click", function (e) {
      if (shown) { map.removeLayer(shown); shown = null; }
      pts.push([Number(e.latlng.lng.toFixed(6)), Number(e.latlng.lat.toFixed(6))]);
      redraw();
    });
    document.getElementById("draw-undo").addEventListener("click", function () { pts.pop(); redraw(); });
    document.getElementById("draw-clear").addEventListener("click", function () { pts = []; redraw(); });
  }

  // ---------------------------------------------------------------- one task
  function upload(taskId, reportId, file) {
    var url = "/api/tasks/" + taskId + "/attachments?filename=" + encodeURIComponent(file.name) +
      (reportId ? "&report_id=" + reportId : "");
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "X-CSRF-Token": QZ.csrf(), "Content-Type": "application/octet-stream", "Accept": "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error(data && data.error ? data.error.message : "上传失败：" + r.status);
        return data;
      });
    });
  }

  function task(root) {
    var id = root.getAttribute("data-id");
    var msg = document.getElementById("task-msg");
    function fail(e) { msg.className = "error"; msg.textContent = e.message; }
    root.addEventListener("click", function (ev) {
      var b = ev.target.closest("button.step");
      if (!b) return;
      var note = document.getElementById("step-note").value;
      QZ.api("/api/tasks/" + id + "/transitions", { method: "POST", body: { to: b.getAttribute("data-to"), note: note } })
        .then(function () { window.location.reload(); }).catch(fail);
    });
    var form = document.getElementById("report-form");
    if (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var text = form.querySelector('[name="text"]').value;
        var file = form.querySelector('[name="file"]').files[0];
        QZ.api("/api/tasks/" + id + "/reports", { method: "POST", body: { text: text } })
          .then(function (r) { return file ? upload(id, r.id, file) : null; })
          .then(function () { window.location.reload(); }).catch(fail);
      });
    }
    var op = document.getElementById("operation");
    if (op) operation(op, id).then(function () { document.body.setAttribute("data-ready", "1"); });
    else document.body.setAttribute("data-ready", "1");
  }

  // ---------------------------------------------------------------- a special operation
  var PERIOD_COLOR = { before: "#8aa4c8", during: "#ff4d5e", after: "#ffb020" };
  function operation(root, id) {
    var base = QZ.baseMap(document.getElementById("op-map"), { tileUrl: root.getAttribute("data-tile-url") });
    var map = base.map;
    function perDay(n, days) { return days > 0 ? (n / days).toFixed(2) : "—"; }
    function pct(c) { return c === null ? "—" : (c > 0 ? "+" : "") + Math.round(c * 100) + "%"; }
    var STATE = { complete: "", partial: "（进行中）", future: "（未到）" };
    return Promise.all([base.ready, QZ.api("/api/tasks/" + id + "/operation")]).then(function (res) {
      var op = res[1];
      var ring = L.geoJSON(op.ring, { style: { color: "#ffb020", weight: 1.5, dashArray: "4 4", fillColor: "#ffb020", fillOpacity: 0.12 } }).addTo(map);
      var area = L.geoJSON(op.area, { style: { color: "#ff4d5e", weight: 2.5, fillColor: "#ff4d5e", fillOpacity: 0.15 } }).addTo(map);
      op.points.forEach(function (p) {
        L.circleMarker([p[1], p[0]], { radius: 4, weight: 1, color: "#fff", fillColor: PERIOD_COLOR[p[2]] || "#ccc", fillOpacity: 0.9 })
          .bindTooltip((p[3] === "area" ? "区域内" : "周边环带") + " · " + ({ before: "行动前", during: "行动期间", after: "行动后" }[p[2]] || ""))
          .addTo(map);
      });
      map.fitBounds(ring.getBounds(), { padding: [16, 16] });
      area.bringToFront();
      document.getElementById("op-summary").textContent = "行动期 " + op.starts_on + " 至 " + op.ends_on +
        " · 区域面积 " + op.area_km2 + " 平方公里 · 周边环带宽 " + op.ring_m + " 米" +
        (op.categories.length ? " · 警情类别：" + op.categories.map(function (c) { return QZ.CATEGORY && QZ.CATEGORY[c] ? QZ.CATEGORY[c].label : c; }).join("、") : " · 全部类别");
      document.querySelector("#op-periods tbody").innerHTML = op.periods.map(function (p) {
        var last = new Date(new Date(p.end + "T00:00:00Z").getTime() - 86400000).toISOString().slice(0, 10);
        return '<tr data-period="' + p.name + '"><td><i style="display:inline-block;width:10px;height:10px;border-radius:50%;background:' + PERIOD_COLOR[p.name] + '"></i> ' + QZ.esc(p.label) + QZ.esc(STATE[p.state] || "") + "</td>" +
          "<td>" + p.start.slice(5) + " 至 " + last.slice(5) + "</td><td>" + p.days + " 天</td>" +
          '<td class="num">' + p.area + '</td><td class="num">' + perDay(p.area, p.days) + "</td>" +
          '<td class="num">' + p.ring + '</td><td class="num">' + perDay(p.ring, p.days) + "</td></tr>";
      }).join("");
      document.querySelector("#op-tests tbody").innerHTML = op.comparisons.length ? op.comparisons.map(function (c) {
        return '<tr data-test="' + c.name + '"><td>' + QZ.esc(c.label) + '</td><td class="num">' + c.current + '</td><td class="num">' + c.previous +
          '</td><td class="num">' + pct(c.change) + '</td><td class="num">' + (c.p_value < 0.001 ? c.p_value.toExponential(1) : c.p_value.toFixed(3)) +
          "</td><td>" + QZ.esc(c.verdict) + "</td></tr>";
      }).join("") : '<tr><td colspan="6" class="muted">行动尚未开始，暂无比较</td></tr>';
      document.getElementById("op-displacement").textContent = "转移检验：" + op.displacement;
    }).catch(function (e) { document.getElementById("op-summary").textContent = "加载失败：" + e.message; });
  }

  function start() {
    whenAll();
    var b = document.getElementById("board");
    if (b) board(b);
    var t = document.getElementById("task");
    if (t) task(t);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
