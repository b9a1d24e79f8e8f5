/* A "Print" button for those who prefer a button to Ctrl+P (the printable decision, the
 * council's agenda). The button is hidden in the HTML and shown here, so it never appears
 * without a script to make it work. */
(function () {
  "use strict";
  var button = document.getElementById("skriv-ut");
  if (!button || typeof window.print !== "function") {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
})();
