// Plinth console playground: the privacy preview and a streamed chat turn.
// First-party, no library. Text from the server or a model is only ever put
// into the page with textContent, never as HTML.
"use strict";
(function () {
  var form = document.getElementById("playground");
  if (!form) return;
  var transcript = document.getElementById("transcript");
  var message = document.getElementById("message");
  var out = document.getElementById("preview-out");
  var stats = document.getElementById("turn-stats");
  var errorBox = document.getElementById("play-error");
  var turns = [];
  var say = function (key) { return form.getAttribute("data-t-" + key) || key; };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fields(extra) {
    var data = new FormData(form);
    var pending = turns.slice();
    if (extra) pending.push({ role: "user", content: extra });
    data.set("messages", JSON.stringify(pending));
    return data;
  }

  function showPreview(result) {
    out.replaceChildren();
    out.hidden = false;
    out.appendChild(el("p", "", say("policy") + ": " + result.policy + " · " + result.action));
    var where = result.where || {};
    if (where.error) {
      out.appendChild(el("p", "error", where.error));
    } else {
      var place = where.locality === "local" ? say("local") : say("cloud");
      var line = el("p", "where", say("served") + ": " + where.deployment + " (" + place + ") · ");
      line.setAttribute("data-locality", where.locality);
      line.appendChild(el("strong", "", where.redacted ? say("redacted") : say("asis")));
      out.appendChild(line);
    }
    result.messages.forEach(function (m) {
      var p = el("p", "preview-message");
      p.appendChild(el("span", "muted", m.role + ": "));
      m.segments.forEach(function (s) {
        p.appendChild(s.placeholder ? el("mark", "placeholder", s.text) : el("span", "", s.text));
      });
      out.appendChild(p);
    });
  }

  document.getElementById("preview").addEventListener("click", function () {
    errorBox.textContent = "";
    fetch(form.getAttribute("data-preview"), { method: "POST", body: fields(message.value), credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (result) {
        if (result.error) { errorBox.textContent = result.error; return; }
        showPreview(result);
      });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = message.value;
    if (!text) return;
    errorBox.textContent = "";
    stats.textContent = "";
    transcript.appendChild(el("div", "turn user", text));
    var answer = el("div", "turn assistant");
    answer.setAttribute("data-chunks", "0");
    transcript.appendChild(answer);
    var body = fields(text);
    turns.push({ role: "user", content: text });
    message.value = "";
    fetch(form.getAttribute("data-chat"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          return response.json().then(function (r) { errorBox.textContent = r.error; });
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffered = "";
        var handle = function (line) {
          if (!line) return;
          var event = JSON.parse(line);
          if (event.delta) {
            answer.textContent += event.delta;
            answer.setAttribute("data-chunks", String(Number(answer.getAttribute("data-chunks")) + 1));
          } else if (event.citations) {
            var list = el("ol", "citations");
            event.citations.forEach(function (c) {
              var item = el("li", "", c.filename + " · " + c.store + " · #" + c.chunk + " · " + c.score);
              item.appendChild(el("blockquote", "", c.text));
              list.appendChild(item);
            });
            transcript.appendChild(list);
          } else if (event.error) {
            errorBox.textContent = event.error;
          } else if (event.done) {
            turns.push({ role: "assistant", content: answer.textContent });
            var u = event.usage || {};
            stats.textContent = say("tokens") + ": " + (u.prompt_tokens || 0) + " + " + (u.completion_tokens || 0) +
              " · " + say("cost") + ": " + event.cost + " · " + say("latency") + ": " + event.latency_ms + " ms · " +
              event.deployment + " (" + event.locality + ")";
            stats.setAttribute("data-done", "1");
          }
        };
        var pump = function () {
          return reader.read().then(function (step) {
            if (step.done) { handle(buffered); return; }
            buffered += decoder.decode(step.value, { stream: true });
            var lines = buffered.split("\n");
            buffered = lines.pop();
            lines.forEach(handle);
            return pump();
          });
        };
        return pump();
      });
  });
})();
