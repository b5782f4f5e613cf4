/* BPTT Lab embed host. Include it once on a page that shows BPTT Lab iframes:

     <iframe src="https://LAB/embed/explore?seq_len=200" title="BPTT Lab" width="720"
             height="800" loading="lazy"></iframe>
     <script src="https://LAB/static/js/embed-host.js" async></script>

   Each embed posts {type: "bpttlab:height", height} to this page when it loads, redraws or
   resizes; this script sets the height of the iframe that sent it. A message is accepted only
   from one of this page's own iframes (event.source) and from the origin its src points to;
   data-origin="https://LAB" on the script tag restricts that to one origin. */
(function () {
  "use strict";
  if (window.bpttlabEmbedHost) return; // included twice: one listener is enough
  window.bpttlabEmbedHost = true;
  var script = document.currentScript;
  var only = script && script.getAttribute("data-origin");

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "bpttlab:height") return;
    var height = Number(data.height);
    if (!(height > 0 && height < 100000)) return;
    if (only && event.origin !== only) return;
    var frames = document.getElementsByTagName("iframe");
    for (var i = 0; i < frames.length; i++) {
      var frame = frames[i];
      if (frame.contentWindow !== event.source) continue;
      if (new URL(frame.src, location.href).origin !== event.origin) return;
      frame.style.height = Math.ceil(height) + "px";
      return;
    }
  });
})();
