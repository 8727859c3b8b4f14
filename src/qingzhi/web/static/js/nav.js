/* qingzhi — the navigation's 督办 count: the caller's units' tasks due within 24 h or overdue,
 * and overdue tasks escalated to the caller's board; refreshed on every task event of the live
 * stream (server-sent events) and each minute, as deadlines pass with the clock. */
(function () {
  "use strict";
  function start() {
    var el = document.getElementById("task-count");
    if (!el) return;
    function refresh() {
      fetch("/api/tasks/reminders", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (c) {
          if (!c) return;
          el.textContent = String(c.total);
          el.hidden = c.total === 0;
          el.className = "nav-count" + (c.overdue || c.escalated ? " late" : "");
          el.title = "24小时内到期 " + c.due_soon + "，逾期 " + c.overdue + "，未按期反馈 " +
            c.feedback_missed + "，升级至本级 " + c.escalated;
        }).catch(function () {});
    }
    refresh();
    setInterval(refresh, 60000);
    if (window.EventSource) {
      var es = new EventSource("/api/live/stream", { withCredentials: true });
      es.addEventListener("task", refresh);
      es.addEventListener("signed_out", function () { es.close(); });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
