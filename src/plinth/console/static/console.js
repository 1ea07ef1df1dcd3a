// Plinth console: the one script. Copy buttons ([data-copy] names the element
// whose text is copied). Pages work without it; nothing is fetched from elsewhere.
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.textContent;
  var done = function () { button.textContent = button.getAttribute("data-done") || "✓"; };
  // Without the Clipboard API (plain http, or permission refused): select the
  // text and ask for a copy, so the user can also press Ctrl+C themselves.
  var fallback = function () {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { document.execCommand("copy"); } catch (ignored) { /* selected for a manual copy */ }
    done();
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
});
