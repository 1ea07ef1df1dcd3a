// Plinth console bench run: live progress while the run is measuring; the page
// reloads when it has finished (its report then shows). First-party.
"use strict";
(function () {
  var box = document.getElementById("run-status");
  if (!box || box.getAttribute("data-status") !== "running") return;
  var bar = document.getElementById("run-progress");
  var count = document.getElementById("run-count");
  var poll = function () {
    fetch(box.getAttribute("data-progress"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        if (p.total) { bar.max = p.total; bar.value = p.done; count.textContent = p.done + " / " + p.total; }
        if (p.status !== "running") { window.location.reload(); return; }
        window.setTimeout(poll, 700);
      });
  };
  poll();
})();
