// Kedja, tasks area: small enhancements; every page works without this file.
// After a submission that came back with errors (or a conflict), move focus to the
// message at the top, so screen-reader and keyboard users start from what to fix.
(function () {
  "use strict";
  var box = document.getElementById("felsammanfattning") || document.getElementById("meddelande");
  if (box) {
    box.focus();
  }
})();
