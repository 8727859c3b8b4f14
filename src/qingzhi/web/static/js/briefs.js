/* The brief archive page: make a brief through POST /api/briefs, then open it. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var form = document.getElementById("brief-make");
  document.body.setAttribute("data-ready", "1");
  if (!form) return;
  var status = document.getElementById("brief-status");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var fd = new FormData(form);
    var body = { kind: fd.get("kind"), date: fd.get("date"), formats: ["html", "docx"] };
    if (fd.get("unit")) body.unit = fd.get("unit");
    if (fd.get("pdf")) body.formats.push("pdf");
    status.textContent = "生成中……";
    QZ.api("/api/briefs", { method: "POST", body: body }).then(function (b) {
      window.location.href = "/briefs/" + b.id;
    }).catch(function (err) {
      status.textContent = "生成失败：" + (err && err.message ? err.message : err);
    });
  });
})();
