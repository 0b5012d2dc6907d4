// Public intake: quick exit, copying the receipt, fingerprints computed on the device.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var exitLink = document.querySelector("[data-quick-exit]");
  function quickExit(event) {
    if (event) { event.preventDefault(); }
    // replace(): the intake page is not left in this tab's history to go "back" to.
    document.body.innerHTML = "";
    window.location.replace(exitLink ? exitLink.href : "https://www.google.com/");
  }
  if (exitLink) { exitLink.addEventListener("click", quickExit); }
  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var now = Date.now();
      if (now - lastEscape < 800) { quickExit(); }
      lastEscape = now;
    }
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll("[data-copy-receipt]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (navigator.clipboard) { navigator.clipboard.writeText(button.getAttribute("data-copy-receipt")); }
    });
  });
  var input = document.querySelector("[data-fingerprint-input]");
  if (input) {
    var status = document.querySelector("[data-fingerprint-status]");
    var hidden = document.querySelector("input[name=fingerprints]");
    input.addEventListener("change", function () {
      if (!window.Fingerprint) { status.textContent = "…"; return; }
      var files = Array.prototype.slice.call(input.files || []);
      Promise.all(files.map(function (f) { return window.Fingerprint.fromFile(f); })).then(function (results) {
        var rows = [];
        results.forEach(function (r) {
          // Only hex strings and PDQ's quality number (0-100) leave the device, never pixels.
          rows.push({algorithm: "pdq", value: r.pdq, quality: r.pdq_quality}, {algorithm: "phash", value: r.phash},
                    {algorithm: "pdq", value: r.pdq_mirrored, quality: r.pdq_mirrored_quality, mirrored: true},
                    {algorithm: "phash", value: r.phash_mirrored, mirrored: true});
        });
        hidden.value = JSON.stringify(rows);
        // The file input is cleared so the pictures cannot be sent with the form.
        input.value = "";
        status.textContent = String(results.length) + " ✓";
      }).catch(function () { status.textContent = "✗"; });
    });
  }
  // The error summary at the top of the form takes the focus, so a screen reader reads it first
  // and a keyboard user starts from the list of answers to fix (each a link to its field).
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var field = document.getElementById(link.getAttribute("href").slice(1));
        if (field) { event.preventDefault(); field.focus(); field.scrollIntoView({block: "center"}); }
      });
    });
  }
})();
