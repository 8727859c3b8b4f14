/* qingzhi — the case room (快侦快办): build the team, notes, the outcome, a 督办 task for the case. */
(function () {
  "use strict";
  var QZ = window.QZ;
  function start() {
    document.querySelectorAll(".when[data-iso]").forEach(function (el) {
      el.textContent = QZ.fmtTime(el.getAttribute("data-iso"), true);
    });
    document.body.setAttribute("data-ready", "1");
    var root = document.getElementById("case");
    if (!root) return;
    var id = root.getAttribute("data-id");
    var msg = document.getElementById("case-msg");
    function fail(e) { msg.className = "error"; msg.textContent = e.message; }
    function reload() { window.location.reload(); }
    var team = document.getElementById("team-form");
    if (team) {
      team.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var units = JSON.parse(team.getAttribute("data-team"));
        var roles = JSON.parse(team.getAttribute("data-roles"));
        var members = units.map(function (u, n) { return { unit_id: u, role: roles[n] }; });
        var add = Number(team.querySelector('[name="unit_id"]').value);
        var role = team.querySelector('[name="role"]').value;
        if (!members.length) members.push({ unit_id: Number(root.getAttribute("data-unit")), role: "lead" });
        if (role === "lead") members.forEach(function (m) { m.role = "member"; });
        var found = members.filter(function (m) { return m.unit_id === add; })[0];
        if (found) found.role = role; else members.push({ unit_id: add, role: role });
        QZ.api("/api/cases/" + id + "/team", { method: "PUT", body: { members: members } }).then(reload).catch(fail);
      });
    }
    var note = document.getElementById("note-form");
    if (note) {
      note.addEventListener("submit", function (ev) {
        ev.preventDefault();
        QZ.api("/api/cases/" + id + "/notes", { method: "POST", body: { text: note.querySelector("textarea").value } })
          .then(reload).catch(fail);
      });
    }
    var outcome = document.getElementById("outcome-form");
    if (outcome) {
      outcome.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var f = new FormData(outcome);
        QZ.api("/api/cases/" + id + "/outcome", { method: "POST", body: {
          status: f.get("status"), suspects_caught: Number(f.get("suspects_caught") || 0),
          recovered_yuan: Number(f.get("recovered_yuan") || 0)
        } }).then(reload).catch(fail);
      });
    }
    var issue = document.getElementById("case-task");
    if (issue) {
      issue.addEventListener("click", function () {
        var title = document.querySelector(".page-title").firstChild.textContent.trim();
        QZ.api("/api/tasks", { method: "POST", body: {
          title: "快侦快办：" + title.slice(0, 180), source_kind: "case", source_ref: id,
          owner_unit_id: Number(root.getAttribute("data-unit")),
          deadline: new Date(Date.now() + 72 * 3600000).toISOString(), priority: 1, feedback_hours: 24,
          instructions: "组织合成作战，限期破案，每日反馈进展。"
        } }).then(function (t) { window.location.href = "/tasks/" + t.id; }).catch(fail);
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
