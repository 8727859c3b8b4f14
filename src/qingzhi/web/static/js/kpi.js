/* The scorecard (scores with intervals, ties, one station's breakdown) and the impact page. */
(function () {
  "use strict";
  var QZ = window.QZ, esc = QZ.esc;
  var GROUP = { urban: "城区所", rural: "农村所", bundled: "捆绑成员所" };

  function num(v, d) { return v === null || v === undefined ? "—" : Number(v).toFixed(d); }
  function pct(v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(1) + "%"; }
  function showError(id, err) {
    var el = document.getElementById(id);
    el.textContent = (err && err.message) || "请求失败";
    el.hidden = false;
  }

  function breakdown(s) {
    var box = document.getElementById("breakdown");
    document.getElementById("breakdown-title").textContent = s.name + " · 指标明细";
    box.querySelector("tbody").innerHTML = s.indicators.map(function (i) {
      return "<tr><td>" + esc(i.name) + "</td><td>" + num(i.value, 3) + "</td><td>" +
        num(i.low, 3) + "–" + num(i.high, 3) + "</td><td>" + i.numerator + " / " + num(i.denominator, 0) +
        "</td><td>" + num(i.normalised, 3) + "</td><td>" + num(i.weight, 2) + "</td></tr>";
    }).join("");
    box.hidden = false;
  }

  function scores(period) {
    document.getElementById("score-error").hidden = true;
    return QZ.api("/api/kpi/scores?draws=500&period=" + encodeURIComponent(period)).then(function (b) {
      var rows = b.stations;
      document.querySelector("#scores tbody").innerHTML = rows.map(function (s, k) {
        var ranked = b.ranking;
        return "<tr tabindex=\"0\" data-k=\"" + k + "\"><td>" + (ranked ? s.rank : "—") + "</td><td>" +
          (ranked ? s.rank_best + "–" + s.rank_worst : "—") + "</td><td>" + esc(s.name) + "</td><td>" +
          esc(GROUP[s.group] || s.group) + "</td><td>" + num(s.score, 3) + "</td><td>" +
          num(s.score_low, 3) + "–" + num(s.score_high, 3) + "</td><td>" +
          (ranked ? esc((s.tied_with || []).length + " 个所") : "—") + "</td></tr>";
      }).join("");
      document.querySelectorAll("#scores tbody tr").forEach(function (tr) {
        function open() { breakdown(rows[Number(tr.getAttribute("data-k"))]); }
        tr.addEventListener("click", open);
        tr.addEventListener("keydown", function (e) { if (e.key === "Enter") open(); });
      });
      document.getElementById("excluded").textContent = b.excluded.length ?
        "未计权重的指标：" + b.excluded.map(function (e) { return e.name + "（" + e.reason + "）"; }).join("；") : "";
      document.getElementById("score-note").setAttribute("data-version", b.scheme.version);
      if (rows.length === 1) breakdown(rows[0]);
    }).catch(function (e) { showError("score-error", e); });
  }

  function row(label, value) { return "<tr><th>" + esc(label) + "</th><td>" + value + "</td></tr>"; }
  function rr(d) {
    return d ? num(d.rate_ratio, 3) + "（95% 区间 " + num(d.low, 3) + "–" + num(d.high, 3) + "，p = " + num(d.p_value, 3) + "）" : "—";
  }
  function yoy(y) { return y ? pct(y.change) + "（" + num(y.previous, 0) + " → " + num(y.current, 0) + "）" : "—"; }

  function impact(reform, outcome) {
    document.getElementById("impact-error").hidden = true;
    return QZ.api("/api/kpi/impact?reform_id=" + reform + "&outcome=" + outcome).then(function (r) {
      var html = row("改革派出所同比（常见口径）", yoy(r.yoy_treated)) +
        row("对照派出所同比（同期）", yoy(r.yoy_controls)) +
        row("双重差分率比（派出所、月份固定效应，按所聚类）", rr(r.did)) +
        row("时间安慰剂检验（改革前伪改革）", r.placebo ? rr(r.placebo) : esc(r.notes.placebo || "—")) +
        row("相邻派出所（转移检验）", r.displacement ? rr(r.displacement) : esc(r.notes.displacement || "—")) +
        row("合成控制（中位率比）", r.synthetic ? num(r.synthetic.median_rate_ratio, 3) : esc(r.notes.synthetic || "—")) +
        row("事件研究：改革前趋势检验 p", num(r.event_study.pretrend_p, 3));
      document.getElementById("impact-rows").innerHTML = html;
      document.getElementById("caveats").innerHTML = r.caveats.map(function (c) { return "<li>" + esc(c) + "</li>"; }).join("");
      document.getElementById("impact").hidden = false;
      var es = r.event_study;
      var chart = echarts.init(document.getElementById("event-study"));
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { data: ["率比", "95% 区间下限", "95% 区间上限"] },
        xAxis: { type: "category", name: "相对改革月", data: es.offsets },
        yAxis: { type: "log", name: "率比" },
        series: [
          { name: "率比", type: "line", data: es.rate_ratio, symbolSize: 6 },
          { name: "95% 区间下限", type: "line", data: es.low, lineStyle: { type: "dashed" }, symbol: "none" },
          { name: "95% 区间上限", type: "line", data: es.high, lineStyle: { type: "dashed" }, symbol: "none" }
        ]
      });
    }).catch(function (e) { showError("impact-error", e); });
  }

  document.getElementById("score-form").addEventListener("submit", function (e) {
    e.preventDefault();
    scores(document.getElementById("period").value);
  });
  var impactForm = document.getElementById("impact-form");
  if (impactForm) impactForm.addEventListener("submit", function (e) {
    e.preventDefault();
    impact(document.getElementById("reform").value, document.getElementById("outcome").value);
  });
  scores(document.getElementById("period").value).then(function () {
    document.body.setAttribute("data-ready", "1");
  });
})();
