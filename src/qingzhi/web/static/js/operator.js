/* The operator's loop, shared by the desk, the big screen and the incident page: lifecycle
 * steps (each asking only what it needs), the waiting timers against the hand-over targets, the
 * alarm for a new urgent call, the unread count in the tab title and aria-live announcements.
 * The clock is QZ.ops.now(): Date.now() plus window.__qzClockOffset (ms), so a test can move it. */
(function () {
  "use strict";
  var QZ = window.QZ;

  // ------------------------------------------------------------------ clock

  function now() { return Date.now() + (Number(window.__qzClockOffset) || 0); }

  // ------------------------------------------------------------------ lifecycle steps

  var STEPS = {
    reinforce: { label: "增援", cls: "secondary" },
    dispatched: { label: "派警", cls: "" },
    arrived: { label: "到场", cls: "" },
    resolved: { label: "处置完毕", cls: "" },
    closed: { label: "结警", cls: "", needs: ["result", "validity"] },
    transferred: { label: "移交", cls: "secondary", needs: ["unit", "reason"] },
    cancelled: { label: "撤销", cls: "danger", needs: ["reason"] }
  };
  var OPEN_FOR_DISPATCH = { received: 1, transferred: 1 };

  function stepLabel(step) { return (STEPS[step] || {}).label || step; }

  // Buttons for an incident's next steps. opts.onDispatch(step) handles 派警/增援 (choosing
  // officers); the others run here. opts.onDone(incident) after a step; opts.flash(text, ok).
  function stepButtons(container, inc, opts) {
    var steps = (inc.next_steps || []).filter(function (s) { return STEPS[s]; });
    container.innerHTML = steps.map(function (s) {
      return '<button type="button" class="step ' + STEPS[s].cls + '" data-step="' + s + '">' + stepLabel(s) + "</button>";
    }).join(" ") || '<span class="muted">无后续操作</span>';
    container.querySelectorAll("button.step").forEach(function (b) {
      b.addEventListener("click", function () { runStep(inc, b.getAttribute("data-step"), opts, b); });
    });
  }

  function post(inc, body, opts) {
    return QZ.api("/api/incidents/" + inc.id + "/transitions", { method: "POST", body: body }).then(function (out) {
      if (opts.flash) opts.flash(stepLabel(body.to) + "：已完成", true);
      announce("警情 " + (out.source_id || out.id) + " " + out.status_label);
      if (opts.onDone) opts.onDone(out);
      return out;
    });
  }

  function runStep(inc, step, opts, button) {
    opts = opts || {};
    if (step === "dispatched" || step === "reinforce") {
      if (opts.onDispatch) opts.onDispatch(step);
      else window.location.href = "/incidents/" + inc.id + "#dispatch-panel";
      return;
    }
    var needs = STEPS[step].needs || [];
    if (!needs.length) {
      if (button) button.disabled = true;
      post(inc, { to: step }, opts).catch(function (e) {
        if (opts.flash) opts.flash(e.message, false);
        if (button) button.disabled = false;
      });
      return;
    }
    openDialog(inc, step, needs, opts, button);
  }

  // The one step dialog (templates/_steps.html): only the fieldsets the step needs are shown.
  function openDialog(inc, step, needs, opts, opener) {
    var dlg = document.getElementById("step-dialog");
    var form = dlg.querySelector("form");
    form.reset();
    dlg.querySelector(".dlg-title").textContent = stepLabel(step) + " · 警情 " + (inc.source_id || ("#" + inc.id));
    dlg.querySelector(".dlg-error").textContent = "";
    dlg.querySelectorAll("[data-need]").forEach(function (fs) {
      var on = needs.indexOf(fs.getAttribute("data-need")) >= 0;
      fs.hidden = !on;
      fs.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !on; });
    });
    var unit = form.elements.unit;
    if (unit) {
      Array.prototype.forEach.call(unit.options, function (o) {
        o.hidden = o.getAttribute("data-id") === String(inc.unit_id);
      });
    }
    var valid = form.elements.valid;
    if (valid) valid.value = inc.valid === false ? "false" : "true";
    syncValidity(form);
    form.onsubmit = function (ev) {
      ev.preventDefault();
      var body = { to: step };
      if (needs.indexOf("reason") >= 0) body.reason = form.elements.reason.value;
      if (needs.indexOf("unit") >= 0) body.unit = form.elements.unit.value || null;
      if (needs.indexOf("result") >= 0) body.result = form.elements.result.value;
      if (needs.indexOf("validity") >= 0) {
        body.valid = form.elements.valid.value === "true";
        if (!body.valid) body.invalid_reason = form.elements.invalid_reason.value || null;
      }
      var submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      post(inc, body, opts).then(function () {
        dlg.close();
        if (opener && opener.isConnected) opener.focus();
      }).catch(function (e) {
        dlg.querySelector(".dlg-error").textContent = e.message;
      }).then(function () { submit.disabled = false; });
    };
    dlg.querySelector("[data-close]").onclick = function () { dlg.close(); };
    dlg.showModal();
    var first = dlg.querySelector("fieldset:not([hidden]) input, fieldset:not([hidden]) select");
    if (first) first.focus();
  }

  function syncValidity(form) {
    var valid = form.elements.valid;
    var reason = form.querySelector("[data-invalid-reason]");
    if (!valid || !reason) return;
    reason.hidden = valid.value !== "false";
    valid.onchange = function () { reason.hidden = valid.value !== "false"; };
  }

  // ------------------------------------------------------------------ waiting timers

  var attention = { targets: { "1": 180, "2": 180, "3": 180, "4": 180 }, warn: 2 / 3 };
  (function () {
    var el = document.querySelector("[data-attention]");
    if (!el) return;
    try { attention = JSON.parse(el.getAttribute("data-attention")); } catch (e) { /* defaults */ }
  })();

  // The waiting of a call received at `iso` with `priority`: its text and its class (ok, warn,
  // over) against the hand-over target of its priority.
  function waiting(iso, priority) {
    var s = Math.max(0, (now() - new Date(iso).getTime()) / 1000);
    var target = attention.targets[String(priority)] || 180;
    var cls = s > target ? "wait-over" : s > target * attention.warn ? "wait-warn" : "wait-ok";
    return { seconds: s, cls: cls, text: QZ.fmtDuration(s), target: target };
  }

  function waitCell(f) {
    if (!OPEN_FOR_DISPATCH[f.status]) return "";
    var w = waiting(f.at, f.priority);
    return '<span class="wait ' + w.cls + '" data-at="' + QZ.esc(f.at) + '" data-priority="' + f.priority +
      '" title="待派警，目标 ' + QZ.fmtDuration(w.target) + ' 内派警">' + w.text + "</span>";
  }

  function tick() {
    document.querySelectorAll(".wait[data-at]").forEach(function (el) {
      var w = waiting(el.getAttribute("data-at"), el.getAttribute("data-priority"));
      el.textContent = w.text;
      if (!el.classList.contains(w.cls)) {
        el.classList.remove("wait-ok", "wait-warn", "wait-over");
        el.classList.add(w.cls);
      }
    });
  }
  setInterval(tick, 1000);

  // ------------------------------------------------------------------ alarm, unread, announcements

  var MUTE_KEY = "qz-mute";
  var audio = null;
  window.__qzAlarms = 0;
  function muted() { try { return window.localStorage.getItem(MUTE_KEY) === "1"; } catch (e) { return false; } }
  function alarm() {
    if (muted()) return;
    window.__qzAlarms += 1;
    if (!audio) audio = new Audio("/static/audio/alert.wav");
    audio.currentTime = 0;
    var p = audio.play();
    if (p && p.catch) p.catch(function () { /* autoplay refused until the user interacts */ });
  }
  function muteButton(button) {
    if (!button) return;
    function show() {
      var m = muted();
      button.textContent = m ? "声音：关" : "声音：开";
      button.setAttribute("aria-pressed", m ? "true" : "false");
    }
    button.addEventListener("click", function () {
      try { window.localStorage.setItem(MUTE_KEY, muted() ? "0" : "1"); } catch (e) { /* private mode */ }
      show();
    });
    show();
  }

  var baseTitle = document.title;
  var unread = {};
  function renderTitle() {
    var n = Object.keys(unread).length;
    document.title = (n ? "(" + n + ") " : "") + baseTitle;
  }
  function markUnread(id) { unread[id] = 1; renderTitle(); }
  function markRead(id) { if (unread[id]) { delete unread[id]; renderTitle(); } }
  function unreadCount() { return Object.keys(unread).length; }

  function announce(text, urgent) {
    var el = document.getElementById(urgent ? "announcer-urgent" : "announcer");
    if (!el) return;
    el.textContent = "";
    setTimeout(function () { el.textContent = text; }, 50);
  }

  // A call on the stream: new ones are announced, counted unread until looked at or
  // dispatched, and an urgent one (特急/紧急) sounds the alarm.
  function onCall(f) {
    if (f.valid === false) return;
    if (f.new && OPEN_FOR_DISPATCH[f.status]) {
      markUnread(f.id);
      var urgent = f.priority <= 2;
      announce("新警情：" + (f.cat_label || "") + " " + (f.sub_label || "") + "，" + (f.address || "") +
        (urgent ? "（" + (f.priority === 1 ? "特急" : "紧急") + "）" : ""), urgent);
      if (urgent) alarm();
    } else if (!OPEN_FOR_DISPATCH[f.status]) {
      markRead(f.id);
    }
  }

  QZ.ops = {
    now: now, STEPS: STEPS, stepLabel: stepLabel, stepButtons: stepButtons, runStep: runStep,
    waiting: waiting, waitCell: waitCell, tick: tick, alarm: alarm, muteButton: muteButton,
    markUnread: markUnread, markRead: markRead, unreadCount: unreadCount, announce: announce,
    onCall: onCall, OPEN_FOR_DISPATCH: OPEN_FOR_DISPATCH
  };
})();
