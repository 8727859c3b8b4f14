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

  var trendChart = null, shownPeriod = "";
  function trend(s, period) {
    document.getElementById("trend-error").hidden = true;
    document.getElementById("trend-title").textContent = s.name + " · 考核趋势";
    var url = "/api/kpi/stations/" + s.unit_id + "/trend?draws=300&period=" +
      encodeURIComponent(period);
    return QZ.api(url).then(function (t) {
      var ps = t.periods, labels = ps.map(function (p) { return p.period; });
      document.querySelector("#trend tbody").innerHTML = ps.map(function (p) {
        var has = p.score !== null && p.score !== undefined;
        var left = (p.excluded || []).map(function (e) { return e.name; }).join("、");
        var notes = p.note || (left ? "未计权重：" + left : "");
        return "<tr><td>" + esc(p.period) + "</td><td>" + (has ? num(p.score, 1) : "—") + "</td><td>" +
          (has ? num(p.score_low, 1) + "–" + num(p.score_high, 1) : "—") + "</td><td>" +
          (t.ranking && has ? p.rank + " / " + p.stations : "—") + "</td><td>" +
          (t.ranking && has ? p.rank_best + "–" + p.rank_worst : "—") + "</td><td>" + esc(notes) + "</td></tr>";
      }).join("");
      var el = document.getElementById("trend-chart");
      if (!trendChart) trendChart = echarts.init(el);
      var bars = ps.map(function (p, k) {
        return p.score === null || p.score === undefined ? [k, null, null] : [k, p.score_low, p.score_high];
      });
      trendChart.setOption({
        animation: false,
        grid: { left: 50, right: 70, top: 30, bottom: 40 },
        tooltip: {
          trigger: "axis",
          formatter: function (items) {
            var p = ps[items[0].dataIndex];
            if (p.score === null || p.score === undefined) return esc(p.period) + "：" + esc(p.note || "无数据");
            return esc(p.period) + "<br>得分 " + num(p.score, 1) + "（95% 区间 " + num(p.score_low, 1) + "–" +
              num(p.score_high, 1) + "）" + (t.ranking ? "<br>排名 " + p.rank + "，区间 " + p.rank_best + "–" + p.rank_worst : "");
          }
        },
        xAxis: { type: "category", data: labels, name: "考核期" },
        yAxis: { type: "value", name: "得分", scale: true },
        series: [
          {
            name: "95% 区间", type: "custom", data: bars, z: 2,
            renderItem: function (params, api) {
              if (api.value(1) === null || isNaN(api.value(1))) return null;
              var lo = api.coord([api.value(0), api.value(1)]), hi = api.coord([api.value(0), api.value(2)]);
              var w = 8, style = { stroke: "#5470c6", lineWidth: 1.5 };
              return { type: "group", children: [
                { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: style },
                { type: "line", shape: { x1: lo[0] - w, y1: lo[1], x2: lo[0] + w, y2: lo[1] }, style: style },
                { type: "line", shape: { x1: hi[0] - w, y1: hi[1], x2: hi[0] + w, y2: hi[1] }, style: style }
              ] };
            },
            encode: { x: 0, y: [1, 2] }
          },
          {
            name: "得分", type: "line", smooth: false, connectNulls: false, symbolSize: 8, z: 3,
            data: ps.map(function (p) { return p.score === undefined ? null : p.score; }),
            markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#999" },
              data: [{ yAxis: 100, label: { formatter: "持平 100" } }] }
          }
        ]
      }, true);
    }).catch(function (e) { showError("trend-error", e); });
  }

  function breakdown(s) {
    var box = document.getElementById("breakdown");
    document.getElementById("breakdown-title").textContent = s.name + " · 指标明细";
    box.hidden = false;
    trend(s, shownPeriod);
    box.querySelector("#breakdown-table tbody").innerHTML = s.indicators.map(function (i) {
      // The figure opens the records behind it (the link and its limits come from the API).
      var value = i.records_url ? "<a class=\"records\" href=\"" + esc(i.records_url) + "\" title=\"" +
        esc(i.records_note || "") + "\">" + num(i.value, 3) + "</a>" : num(i.value, 3);
      return "<tr data-indicator=\"" + esc(i.indicator) + "\"><td>" + esc(i.name) + "</td><td>" + value + "</td><td>" +
        num(i.low, 3) + "–" + num(i.high, 3) + "</td><td>" + i.numerator + " / " + num(i.denominator, 0) +
        "</td><td>" + num(i.normalised, 3) + "</td><td>" + num(i.weight, 2) + "</td></tr>";
    }).join("");
    box.hidden = false;
  }

  function scores(period) {
    document.getElementById("score-error").hidden = true;
    return QZ.api("/api/kpi/scores?draws=500&period=" + encodeURIComponent(period)).then(function (b) {
      var rows = b.stations;
      shownPeriod = b.period;
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
