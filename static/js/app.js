// Progressive enhancement only: every page works without JavaScript.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // The language menu changes language as soon as a choice is made.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();

// Evidence upload with a progress bar. Without JavaScript the form posts normally.
(function () {
  "use strict";
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.XMLHttpRequest || !window.FormData) { return; }
      event.preventDefault();
      var bar = form.querySelector("[data-progress]");
      var list = form.querySelector("[data-results]");
      var button = form.querySelector("button[type=submit]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false; bar.value = 0; button.disabled = true; list.textContent = "";
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
      });
      xhr.addEventListener("load", function () {
        button.disabled = false; bar.value = 100;
        var data = {};
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = {detail: xhr.statusText}; }
        var results = data.results || [{name: "", ok: false, error: data.detail || xhr.statusText}];
        results.forEach(function (r) {
          var li = document.createElement("li");
          li.className = r.ok ? "ok" : "err";
          li.textContent = (r.name ? r.name + ": " : "") + (r.ok ? form.dataset.okText || "✓" : r.error);
          list.appendChild(li);
        });
        if (results.some(function (r) { return r.ok; })) {
          setTimeout(function () { window.location.reload(); }, 1200);
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        var li = document.createElement("li"); li.className = "err"; li.textContent = "Network error"; list.appendChild(li);
      });
      xhr.send(new FormData(form));
    });
  });
})();

// Bulk takedown entry with progress, and live statuses on the case page.
(function () {
  "use strict";
  document.querySelectorAll("form[data-bulk]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.XMLHttpRequest || !window.FormData) { return; }
      event.preventDefault();
      var bar = form.querySelector("[data-progress]");
      var out = form.querySelector("[data-bulk-result]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false; bar.removeAttribute("value");
      xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) { bar.value = Math.round(e.loaded / e.total * 90); } });
      xhr.addEventListener("load", function () {
        bar.value = 100;
        var data = {};
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = {detail: xhr.statusText}; }
        out.textContent = data.detail ? data.detail : ("+" + data.created + " · =" + data.merged + (data.invalid && data.invalid.length ? " · ✗" + data.invalid.length : ""));
        if (xhr.status < 300) { setTimeout(function () { window.location.hash = "takedowns"; window.location.reload(); }, 600); }
      });
      xhr.send(new FormData(form));
    });
  });
  var panel = document.querySelector("[data-statuses-url]");
  if (panel && window.fetch) {
    var refresh = function () {
      fetch(panel.getAttribute("data-statuses-url"), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          Object.keys(data.requests).forEach(function (id) {
            var row = panel.querySelector('tr[data-request="' + id + '"] [data-status]');
            if (row && row.getAttribute("data-value") !== data.requests[id].status) {
              row.setAttribute("data-value", data.requests[id].status);
              row.className = "tag status-" + data.requests[id].status;
              row.textContent = data.requests[id].label;
            }
          });
        }).catch(function () {});
    };
    setInterval(refresh, 3000);
  }
})();
