// Progressive enhancement only: every page works without this file.
// On an article page, send the seconds spent reading when the reader leaves it.
(function () {
  "use strict";
  var article = document.querySelector("article.reader[data-article-id]");
  var token = document.querySelector('meta[name="csrf-token"]');
  if (!article || !token || !navigator.sendBeacon) {
    return;
  }
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var seconds = 0;
  var sent = false;
  function pause() {
    if (visibleSince !== null) {
      seconds += (Date.now() - visibleSince) / 1000;
      visibleSince = null;
    }
  }
  function send() {
    pause();
    if (sent || seconds < 1) {
      return;
    }
    sent = true;
    var body = new FormData();
    body.append("article_id", article.getAttribute("data-article-id"));
    body.append("seconds", String(Math.min(Math.round(seconds), 14400)));
    body.append("csrf", token.getAttribute("content"));
    navigator.sendBeacon("/read", body);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      if (visibleSince === null) {
        visibleSince = Date.now();
      }
    } else {
      send();
    }
  });
  window.addEventListener("pagehide", send);
})();

// Settings: show a range input's value as it moves (the page shows the saved value without
// script).
(function () {
  "use strict";
  var outputs = document.querySelectorAll("output[for]");
  Array.prototype.forEach.call(outputs, function (output) {
    var input = document.getElementById(output.getAttribute("for"));
    if (!input || input.type !== "range") {
      return;
    }
    input.addEventListener("input", function () {
      output.textContent = Math.round(parseFloat(input.value) * 100) + "%";
    });
  });
})();
