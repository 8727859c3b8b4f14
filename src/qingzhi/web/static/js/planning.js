/* qingzhi — the planning page: saved plans, their maps side by side, the moves, response-time
 * distributions (ECharts) and road km; new runs and an admin's decision via /api/planning. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var esc = QZ.esc;
  var page = document.getElementById("planning-page");
  if (!page) return;
  var canApply = page.getAttribute("data-can-apply") === "true";
  var COLORS = ["#1f6feb", "#8957e5", "#1a7f64", "#bf8700", "#cf222e", "#0a7ea4", "#a0499e",
    "#2da44e", "#d4a72c", "#e16f24", "#218bff", "#6e7781"];
  var CLASS_LABELS = { national: "国道", provincial: "省道", county: "县道", township: "乡道",
    village: "村道", other: "其他" };
  var units = null; // the jurisdictions layer, fetched once
  var charts = [];
  var maps = [];
  var current = null;

  function fmt(x, d) { return x === null || x === undefined ? "—" : Number(x).toFixed(d === undefined ? 2 : d); }
  function pct(x) { return x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%"; }

  function table(head, rows) {
    return '<table class="grid"><thead><tr>' + head.map(function (h) { return "<th>" + esc(h) + "</th>"; }).join("") +
      "</tr></thead><tbody>" + rows.map(function (r) {
        return "<tr>" + r.map(function (c) { return "<td>" + c + "</td>"; }).join("") + "</tr>";
      }).join("") + "</tbody></table>";
  }

  function clear() {
    charts.forEach(function (c) { c.dispose(); });
    maps.forEach(function (m) { m.remove(); });
    charts = []; maps = [];
  }

  function chart(el, option) {
    var c = window.echarts.init(el, null, { renderer: "canvas" });
    c.setOption(Object.assign({ backgroundColor: "transparent", textStyle: { color: "#cfe3ff" } }, option));
    charts.push(c);
    return c;
  }

  function loadUnits() {
    if (units) return Promise.resolve(units);
    return QZ.api("/api/org/layers/units").then(function (fc) { units = fc; return fc; });
  }

  function planMap(el, bundles, names) {
    var colour = {};
    bundles.forEach(function (b, i) {
      [b.centre].concat(b.members).forEach(function (c) { colour[c] = COLORS[i % COLORS.length]; });
    });
    var m = L.map(el, { zoomControl: false, attributionControl: false });
    maps.push(m);
    var centres = {};
    bundles.forEach(function (b) { centres[b.centre] = true; });
    var layer = L.geoJSON(units, {
      filter: function (f) { return f.geometry && names[f.properties.code] !== undefined; },
      style: function (f) {
        var c = colour[f.properties.code];
        return { color: "#7fa7d9", weight: 1, fillColor: c || "#22354f", fillOpacity: c ? 0.65 : 0.25 };
      },
      onEachFeature: function (f, l) {
        var code = f.properties.code;
        l.bindTooltip(esc(names[code] || code) + (centres[code] ? "（中心所驻地）" : colour[code] ? "（成员所）" : ""));
      }
    }).addTo(m);
    var b = layer.getBounds();
    if (b.isValid()) m.fitBounds(b, { padding: [4, 4] });
  }

  function showBundle(plan) {
    var res = plan.result, body = document.getElementById("plan-body");
    var names = {};
    (plan.inputs.stations || []).forEach(function (s) { names[s.code] = s.name; });
    var html = '<p class="muted">目标函数：' + esc(res.objective) + "；求解器 " + esc(res.solver.name) + "，" +
      esc(res.solver.status === "optimal" ? "已证明最优" : "时间上限，剩余间隙 " + res.solver.mip_gap) +
      "，用时 " + fmt(res.solver.seconds) + " 秒；行驶时间：" + esc(plan.inputs.travel) + "</p>";
    html += '<div class="plan-maps">' + res.plans.map(function (p, i) {
      return '<div><h3>' + esc(p.label) + '</h3><div class="small-map"><div class="map" id="pm-' + i + '"></div></div></div>';
    }).join("") + "</div>";
    html += table(["方案", "目标值", "加权平均行驶（分钟）", "失衡（需调动人数）", "人均警情变异系数", "撤并驻地",
      "驻地撤并暴露（刑事治安警情·分钟/周）", "受波及相邻所"], res.plans.map(function (p) {
      return [esc(p.label), fmt(p.objective, 3), fmt(p.mean_travel_minutes), fmt(p.balance_officers, 1),
        fmt(p.imbalance_cv, 3), p.displacement.seats_closed, fmt(p.displacement.total_exposure, 1),
        esc(p.displacement.neighbours_at_risk.map(function (c) { return names[c] || c; }).join("、"))];
    }));
    if (res.current_note) html += '<p class="muted">现行捆绑未参与比较：' + esc(res.current_note) + "</p>";
    html += '<h3>各所出警行驶时间（分钟）</h3>';
    var codes = Object.keys(names);
    html += table(["派出所"].concat(res.plans.map(function (p) { return p.label; })), codes.map(function (c) {
      return [esc(names[c])].concat(res.plans.map(function (p) { return fmt(p.travel_minutes[c]); }));
    }));
    html += '<h3>置换风险：失去驻地的派出所</h3>';
    var rows = [];
    res.plans.forEach(function (p) {
      p.displacement.losses.forEach(function (x) {
        rows.push([esc(p.label), esc(names[x.station] || x.station), esc(names[x.answered_from] || x.answered_from),
          fmt(x.extra_minutes), fmt(x.crime_calls, 1), fmt(x.exposure, 1)]);
      });
    });
    html += rows.length ? table(["方案", "派出所", "改由驻地", "增加行驶（分钟）", "刑事治安警情/周", "暴露"], rows)
      : '<p class="muted">无驻地撤并。</p>';
    body.innerHTML = html;
    loadUnits().then(function () {
      res.plans.forEach(function (p, i) { planMap(document.getElementById("pm-" + i), p.bundles, names); });
    });
  }

  function showAllocate(plan) {
    var res = plan.result, body = document.getElementById("plan-body");
    var html = "<p>全局平均出警时间（等待 + 行驶，M/M/c 预测）：<b>" + fmt(res.mean_response_before) + "</b> → <b>" +
      fmt(res.mean_response_after) + "</b> 分钟；调整 " + res.moved + " 人（" + esc(res.organisation) + "；" +
      esc(res.roster) + (res.min_gain_minutes ? "；每调 1 人至少降低 " + res.min_gain_minutes + " 分钟" : "") + "）</p>";
    if (res.understaffed_before.length) html += '<p class="bad">现有警力不足以全天候保持一组在岗（无法预测出警时间）：' +
      esc(res.understaffed_before.join("、")) + (res.understaffed_after.length ? "；调整后仍不足：" +
      esc(res.understaffed_after.join("、")) : "；调整后均已补足") + "</p>";
    html += '<div class="plan-chart" id="alloc-chart"></div>';
    html += "<h3>调整方案</h3>" + (res.moves.length ? table(["调整", "人数", "平均出警时间减少（分钟）"], res.moves.map(function (m) {
      return [esc(m.text), m.officers, m.gain_minutes === null ? "补足全天候在岗" : fmt(m.gain_minutes, 4)];
    })) : '<p class="muted">现有配置已最优，无需调整。</p>');
    html += "<h3>各单位</h3>" + table(["单位", "现有", "调整后", "平均出警（现）", "平均出警（后）"], res.units.map(function (u) {
      return [esc(u.name), u.before, u.after, fmt(u.response_before), fmt(u.response_after)];
    }));
    body.innerHTML = html;
    chart(document.getElementById("alloc-chart"), {
      tooltip: { trigger: "axis" }, legend: { data: ["现有", "调整后"], textStyle: { color: "#cfe3ff" } },
      grid: { left: 50, right: 20, top: 30, bottom: 90 },
      xAxis: { type: "category", data: res.units.map(function (u) { return u.name; }), axisLabel: { rotate: 50, color: "#9fb6d6" } },
      yAxis: { type: "value", name: "平均出警（分钟）", axisLabel: { color: "#9fb6d6" } },
      series: [
        { name: "现有", type: "bar", data: res.units.map(function (u) { return u.response_before; }) },
        { name: "调整后", type: "bar", data: res.units.map(function (u) { return u.response_after; }) }
      ]
    });
  }

  function showSimulate(plan) {
    var res = plan.result, body = document.getElementById("plan-body");
    var html = '<p class="muted">行驶时间：' + esc(res.travel) + "；" + (res.neighbours ? "允许相邻单位支援" : "不跨界支援") + "</p>";
    html += '<div class="plan-chart" id="sim-chart"></div>';
    html += table(["情景", "警情数", "平均出警（分钟）", "95% 置信区间", "中位数", "90 分位", "需等待"], res.scenarios.map(function (s) {
      var c = s.county;
      return [esc(s.label), c.calls, fmt(c.mean), "± " + fmt(c.ci95), fmt(c.p50), fmt(c.p90), pct(c.share_waited)];
    }));
    var v = res.validation;
    html += "<h3>模型校验：M/M/c 预测与仿真（各所独立）— " + v.within + "/" + v.stations.length + " 个所在容差内（" + esc(v.tolerance) + "）</h3>";
    html += table(["派出所", "模型平均", "模型 90 分位", "仿真平均", "± 置信区间", "结论"], v.stations.map(function (s) {
      return [esc(s.name), fmt(s.model_mean), fmt(s.model_p90), fmt(s.sim_mean), fmt(s.sim_ci95),
        s.within ? '<span class="good">一致</span>' : '<span class="bad">偏差</span>'];
    }));
    body.innerHTML = html;
    var bins = [];
    for (var i = 0; i <= 60; i++) bins.push(i === 60 ? "60+" : String(i));
    chart(document.getElementById("sim-chart"), {
      title: { text: "出警时间分布（每分钟警情占比）", textStyle: { color: "#cfe3ff", fontSize: 14 } },
      tooltip: { trigger: "axis" }, legend: { top: 24, textStyle: { color: "#cfe3ff" } },
      grid: { left: 50, right: 20, top: 60, bottom: 40 },
      xAxis: { type: "category", data: bins, name: "分钟", axisLabel: { color: "#9fb6d6" } },
      yAxis: { type: "value", axisLabel: { color: "#9fb6d6", formatter: function (x) { return (100 * x).toFixed(0) + "%"; } } },
      series: res.scenarios.map(function (s) {
        var n = s.histogram.reduce(function (a, b) { return a + b; }, 0) || 1;
        return { name: s.label, type: "line", smooth: true, showSymbol: false,
          data: s.histogram.map(function (x) { return x / n; }) };
      })
    });
  }

  function showRoads(plan) {
    var res = plan.result, body = document.getElementById("plan-body");
    var html = "<p>道路来源：" + esc(res.source) + "</p>";
    html += '<div class="plan-chart" id="roads-chart"></div>';
    html += table(["派出所"].concat(res.classes.map(function (c) { return CLASS_LABELS[c] + "（km）"; }),
      ["警力", "国省县道 km/人", "全部道路 km/人", "交通警情/年", "交所合一"]), res.stations.map(function (s) {
      return [esc(s.name)].concat(res.classes.map(function (c) { return fmt(s.km[c], 1); }),
        [s.officers, fmt(s.trunk_km_per_officer), fmt(s.km_per_officer), fmt(s.traffic_calls_per_year, 0), s.traffic_integrated ? "是" : "否"]);
    }));
    if (res.squads.length) {
      html += "<h3>整合前：交通中队</h3>" + table(["中队", "警力", "国省县道 km/人"], res.squads.map(function (q) {
        return [esc(q.name), q.officers, fmt(q.trunk_km_per_officer)];
      }));
    }
    body.innerHTML = html;
    chart(document.getElementById("roads-chart"), {
      tooltip: { trigger: "axis" }, legend: { textStyle: { color: "#cfe3ff" } },
      grid: { left: 50, right: 20, top: 30, bottom: 90 },
      xAxis: { type: "category", data: res.stations.map(function (s) { return s.name; }), axisLabel: { rotate: 50, color: "#9fb6d6" } },
      yAxis: { type: "value", name: "km", axisLabel: { color: "#9fb6d6" } },
      series: res.classes.map(function (c) {
        return { name: CLASS_LABELS[c], type: "bar", stack: "km", data: res.stations.map(function (s) { return s.km[c]; }) };
      })
    });
  }

  function show(id) {
    return QZ.api("/api/planning/plans/" + id).then(function (plan) {
      clear();
      current = plan;
      document.getElementById("plan-detail").hidden = false;
      document.getElementById("plan-title").textContent = plan.kind_label + " · " + plan.title + "（" + plan.status_label + "）";
      var meta = "方案 " + plan.id + "；创建 " + QZ.fmtDateTime(new Date(plan.created_at));
      if (plan.inputs) meta += "；警情 " + plan.inputs.calls + " 起（" + plan.inputs.window.start.slice(0, 10) + " 至 " +
        plan.inputs.window.end.slice(0, 10) + "）；" + plan.inputs.notes.join("；");
      if (plan.decision_note) meta += "；决定说明：" + plan.decision_note;
      document.getElementById("plan-meta").textContent = meta;
      var err = document.getElementById("plan-error");
      err.hidden = !plan.error;
      if (plan.error) err.textContent = plan.error.message;
      document.getElementById("plan-body").innerHTML = "";
      var decide = document.getElementById("plan-decide");
      if (decide) decide.hidden = !(canApply && plan.status === "ready");
      if (!plan.result) return;
      ({ bundle: showBundle, allocate: showAllocate, simulate: showSimulate, roads: showRoads })[plan.kind](plan);
    });
  }

  function list(select) {
    return QZ.api("/api/planning/plans").then(function (data) {
      var tbody = document.querySelector("#plan-list tbody");
      tbody.innerHTML = data.items.map(function (p) {
        return '<tr data-id="' + p.id + '"><td>' + p.id + "</td><td>" + esc(p.kind_label) + "</td><td>" + esc(p.title) +
          "</td><td>" + esc(p.status_label) + "</td><td>" + esc(QZ.fmtDateTime(new Date(p.created_at))) + "</td></tr>";
      }).join("");
      document.getElementById("plan-empty").hidden = data.items.length > 0;
      Array.prototype.forEach.call(tbody.querySelectorAll("tr"), function (tr) {
        tr.addEventListener("click", function () { show(tr.getAttribute("data-id")); });
      });
      var pick = select || (data.items.length ? data.items[0].id : null);
      if (pick) return show(pick);
    });
  }

  function poll(id, state) {
    return QZ.api("/api/planning/plans/" + id).then(function (plan) {
      if (plan.status !== "computing") { state.textContent = "完成：" + plan.status_label; return list(id); }
      return (plan.job_url ? QZ.api(plan.job_url) : Promise.resolve({ progress: 0, message: "" })).then(function (job) {
        state.textContent = "计算中 " + Math.round(100 * job.progress) + "% " + (job.message || "");
        return new Promise(function (r) { setTimeout(r, 700); }).then(function () { return poll(id, state); });
      });
    });
  }

  var form = document.getElementById("run-form");
  if (form) {
    var kindSel = form.querySelector("select[name=kind]");
    var toggle = function () {
      ["bundle", "allocate", "simulate"].forEach(function (k) {
        Array.prototype.forEach.call(form.querySelectorAll(".k-" + k), function (el) { el.hidden = kindSel.value !== k; });
      });
    };
    kindSel.addEventListener("change", toggle);
    toggle();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var state = document.getElementById("run-state");
      var kind = kindSel.value, body = { kind: kind };
      var val = function (n) { var el = form.querySelector("[name=" + n + "]"); return el && el.value !== "" ? el.value : null; };
      if (val("title")) body.title = val("title");
      if (kind === "bundle") {
        if (val("n_bundles")) body.n_bundles = [Number(val("n_bundles")), Number(val("n_bundles"))];
        if (val("n_bundled")) body.n_bundled = [Number(val("n_bundled")), Number(val("n_bundled"))];
        if (val("max_seat_minutes")) body.max_seat_minutes = Number(val("max_seat_minutes"));
      }
      if (kind === "allocate" && val("target_minutes")) body.target_minutes = Number(val("target_minutes"));
      if (kind === "allocate" && val("min_gain_minutes")) body.min_gain_minutes = Number(val("min_gain_minutes"));
      if (kind === "simulate") body.neighbours = form.querySelector("[name=neighbours]").checked;
      state.textContent = "提交中…";
      QZ.api("/api/planning/plans", { method: "POST", body: body }).then(function (out) {
        return list(out.plan.id).then(function () { return poll(out.plan.id, state); });
      }).catch(function (e) { state.textContent = "未能提交：" + e.message; });
    });
  }

  var decideBox = document.getElementById("plan-decide");
  if (decideBox) {
    Array.prototype.forEach.call(decideBox.querySelectorAll("button"), function (btn) {
      btn.addEventListener("click", function () {
        var state = document.getElementById("decide-state");
        var note = document.getElementById("decision-note").value;
        QZ.api("/api/planning/plans/" + current.id + "/decision", { method: "POST",
          body: { decision: btn.getAttribute("data-decision"), note: note } }).then(function () {
          state.textContent = "已记录";
          return list(current.id);
        }).catch(function (e) { state.textContent = e.message; });
      });
    });
  }

  list(null).catch(function (e) {
    document.getElementById("plan-empty").hidden = false;
    document.getElementById("plan-empty").textContent = "无法读取方案：" + e.message;
  }).then(function () { document.body.setAttribute("data-ready", "1"); });
})();
