/* qingzhi — one click from an incident: issue a 督办 task to its handling unit, or open a case. */
(function () {
  "use strict";
  var QZ = window.QZ;
  function start() {
    var box = document.getElementById("incident-work");
    if (!box) return;
    var id = box.getAttribute("data-id");
    var msg = document.getElementById("work-msg");
    function fail(e) { msg.className = "error"; msg.textContent = e.message; }
    var task = document.getElementById("issue-task");
    if (task) task.addEventListener("click", function () {
      QZ.api("/api/tasks", { method: "POST", body: {
        title: box.getAttribute("data-title"), source_kind: "incident", source_ref: id,
        owner_unit_id: Number(box.getAttribute("data-unit")),
        deadline: new Date(Date.now() + 72 * 3600000).toISOString(), priority: 2, feedback_hours: 24,
        instructions: "请核查处置并按期反馈。"
      } }).then(function (t) { window.location.href = "/tasks/" + t.id; }).catch(fail);
    });
    var kase = document.getElementById("open-case");
    if (kase) kase.addEventListener("click", function () {
      QZ.api("/api/cases", { method: "POST", body: { incident_ids: [Number(id)] } })
        .then(function (c) { window.location.href = "/cases/" + c.id; }).catch(fail);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
