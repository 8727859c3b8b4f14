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
        QZ.api("/api/tasks", { method: "POST", body: body }).then(function (t) {
          window.location.href = "/tasks/" + t.id;
        }).catch(function (e) { msg.className = "error"; msg.textContent = e.message; });
      });
    }
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
    document.body.setAttribute("data-ready", "1");
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
