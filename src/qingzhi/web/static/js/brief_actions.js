/* A brief's draft actions issued as 督办 tasks in one click (the task's source is the action). */
(function () {
  "use strict";
  var QZ = window.QZ;
  var panel = document.getElementById("brief-actions");
  if (!panel) return;
  var brief = panel.getAttribute("data-brief");
  var days = Number(panel.getAttribute("data-days") || 7);
  panel.querySelectorAll("button[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var row = button.closest("li");
      var owner = row.querySelector("select").value;
      var msg = row.querySelector(".msg");
      var deadline = new Date(Date.now() + days * 86400000).toISOString();
      button.disabled = true;
      QZ.api("/api/tasks", {
        method: "POST",
        body: {
          title: row.getAttribute("data-title").slice(0, 200),
          instructions: row.getAttribute("data-finding"),
          source_kind: "brief_finding",
          source_ref: brief + ":" + button.getAttribute("data-action"),
          owner_unit_id: Number(owner),
          deadline: deadline
        }
      }).then(function (task) {
        msg.innerHTML = '已下发：<a href="/tasks/' + task.id + '">督办 #' + task.id + "</a>";
      }).catch(function (e) {
        button.disabled = false;
        msg.textContent = e.message;
      });
    });
  });
})();
