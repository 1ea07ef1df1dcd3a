// Plinth console knowledge base: drag-and-drop upload with progress, then the
// file table refreshes while any file is still being ingested. First-party.
"use strict";
(function () {
  var form = document.getElementById("upload-form");
  var pending = document.querySelector("#files tr[data-status='in_progress']");
  if (pending) {
    // Ingestion runs on the server: look again shortly, until every file is done.
    window.setTimeout(function () { window.location.reload(); }, 1500);
  }
  if (!form) return;
  var input = document.getElementById("files");
  var drop = document.getElementById("drop");
  var bar = document.getElementById("upload-progress");
  var errorBox = document.getElementById("upload-error");

  function send(files) {
    if (!files.length) return;
    var data = new FormData();
    data.set("csrf", form.querySelector("input[name='csrf']").value);
    for (var i = 0; i < files.length; i++) data.append("files", files[i]);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action"));
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 201) { bar.value = 100; window.location.reload(); return; }
      errorBox.textContent = xhr.responseText.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 500);
    });
    xhr.send(data);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.files);
  });
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    drop.classList.remove("over");
    send(e.dataTransfer.files);
  });
})();
