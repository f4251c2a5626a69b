// Runs right after the CDN's script tags (webapp/assets.py): a library whose global is
// missing did not load (no internet, a CDN outage, a blocked host), and this server's copy
// of it is written in its place, before the rest of the page is parsed. Written, not
// appended: scripts appended later would run after htmx has already read the page.
(function () {
  const me = document.currentScript;
  const missing = JSON.parse(me.dataset.fallbacks).filter(([global]) => !window[global]);
  for (const [, src, integrity] of missing) {
    document.write(`<script src="${src}" integrity="${integrity}" crossorigin="anonymous"><\/script>`);
  }
  if (missing.length) console.warn("Voltaro: the CDN could not be reached; using this server's copies");
})();
