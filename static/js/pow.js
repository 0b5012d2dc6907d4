// Proof of work for the public forms (cases/pow.py): before a form with data-pow is sent, find a
// nonce so that SHA-256("challenge:nonce") starts with the challenge's number of zero bits. It
// costs this device about a second and a flood of reports a great deal; nothing about the device
// is sent. Without crypto.subtle (plain http) the form goes without a proof, as without JavaScript.
(function () {
  "use strict";
  function zeroBits(bytes) {
    var count = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { count += 8; continue; }
      return count + Math.clz32(bytes[i]) - 24;
    }
    return count;
  }
  async function solve(challenge) {
    var bits = parseInt(challenge.split(".")[0], 10);
    var encoder = new TextEncoder();
    var batch = 256;
    for (var start = 0; ; start += batch) {
      var tries = [];
      for (var n = start; n < start + batch; n++) {
        tries.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + n)));
      }
      var digests = await Promise.all(tries);
      for (var k = 0; k < digests.length; k++) {
        if (zeroBits(new Uint8Array(digests[k])) >= bits) { return String(start + k); }
      }
    }
  }
  function field(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }
  document.querySelectorAll("form[data-pow]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.powDone === "1" || !(window.crypto && crypto.subtle)) { return; }
      event.preventDefault();
      if (form.dataset.powBusy === "1") { return; }
      form.dataset.powBusy = "1";
      form.setAttribute("aria-busy", "true");
      var submitter = event.submitter;
      var challenge = form.getAttribute("data-pow");
      solve(challenge).then(function (nonce) {
        field(form, "pow_challenge", challenge);
        field(form, "pow_nonce", nonce);
        form.dataset.powDone = "1";
        // submit() sends the form as it is; the button pressed is carried over by hand.
        if (submitter && submitter.name) { field(form, submitter.name, submitter.value); }
        form.submit();
      });
    });
  });
})();
