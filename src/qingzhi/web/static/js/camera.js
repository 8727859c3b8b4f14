/* Body-camera (执法记录仪) live streams: HLS through the vendored hls.js (or the browser's own
 * player); a stream that fails or shows nothing within a few seconds is said to be down. */
(function () {
  "use strict";
  var QZ = window.QZ;
  var DEAD_AFTER_MS = 8000;
  var current = null;

  // Play officer o's stream in box (a container with video, .cam-who and .cam-dead).
  function play(box, o) {
    var video = box.querySelector("video");
    var who = box.querySelector(".cam-who");
    var dead = box.querySelector(".cam-dead");
    stop();
    box.hidden = false;
    who.textContent = o.name + "（" + o.no + "）执法记录仪";
    dead.hidden = true;
    dead.textContent = "";
    var state = { hls: null, timer: null, video: video };
    current = state;
    function down(why) {
      if (current !== state) return;
      dead.hidden = false;
      dead.textContent = "视频流无法连接：" + why + "（记录仪可能离线或地址已失效）";
      box.setAttribute("data-camera", "dead");
    }
    box.setAttribute("data-camera", "loading");
    video.onplaying = function () {
      if (current !== state) return;
      clearTimeout(state.timer);
      box.setAttribute("data-camera", "playing");
    };
    state.timer = setTimeout(function () { down("超时无画面"); }, DEAD_AFTER_MS);
    if (window.Hls && window.Hls.isSupported()) {
      state.hls = new window.Hls();
      state.hls.on(window.Hls.Events.ERROR, function (_ev, data) {
        if (data && data.fatal) { clearTimeout(state.timer); down("流中断"); }
      });
      state.hls.loadSource(o.camera_url);
      state.hls.attachMedia(video);
    } else {
      video.onerror = function () { clearTimeout(state.timer); down("流中断"); };
      video.src = o.camera_url;
    }
    var p = video.play();
    if (p && p.catch) p.catch(function () { /* waits for data or the user */ });
  }

  function stop() {
    if (!current) return;
    clearTimeout(current.timer);
    if (current.hls) current.hls.destroy();
    current.video.removeAttribute("src");
    current = null;
  }

  QZ.camera = { play: play, stop: stop };
})();
