// Shows, as the code is typed, whether a unified social credit code's check character
// (GB 32100-2015) is right, and which one it should be; the server checks again on submit.
(function () {
  "use strict";
  var ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  var input = document.getElementById("uscc");
  var out = document.getElementById("uscc-check");
  if (!input || !out) { return; }
  function verdict(code) {
    if (code.length === 0) { return ["", ""]; }
    for (var i = 0; i < code.length; i++) {
      if (ALPHABET.indexOf(code[i]) < 0) { return ["bad", out.dataset.badChar.replace("{c}", code[i])]; }
    }
    if (code.length !== 18) { return ["bad", out.dataset.length.replace("{n}", code.length)]; }
    var total = 0;
    for (var j = 0; j < 17; j++) { total += ALPHABET.indexOf(code[j]) * WEIGHTS[j]; }
    var expected = ALPHABET[(31 - total % 31) % 31];
    if (code[17] !== expected) { return ["bad", out.dataset.mismatch.replace("{c}", expected)]; }
    return ["good", out.dataset.ok];
  }
  function show() {
    var result = verdict(input.value.trim().toUpperCase());
    out.className = "check " + result[0];
    out.textContent = result[1];
  }
  input.addEventListener("input", show);
  show();
}());
