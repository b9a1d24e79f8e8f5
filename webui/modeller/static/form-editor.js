// The form editor's live preview: after a pause in typing, ask the server to render the
// typed JSON Schema + UI schema (the same code as the "Förhandsgranska" button) and show it.
(function () {
  "use strict";
  var form = document.getElementById("form-editor");
  var preview = document.getElementById("form-preview");
  if (!form || !preview || !window.fetch) { return; }
  var schema = document.getElementById("schema-text");
  var ui = document.getElementById("ui-text");
  var timer = null;
  var asked = 0;

  function refresh() {
    var mine = ++asked;
    fetch(form.dataset.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf },
      body: JSON.stringify({ schema: schema.value, ui: ui.value })
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (mine !== asked) { return; }
      if (data.ok) {
        preview.innerHTML = data.html;
      } else {
        var p = document.createElement("p");
        p.className = "field-error";
        p.textContent = Object.values(data.errors).join(" ");
        preview.replaceChildren(p);
      }
    }).catch(function () { /* keep the last preview; the button still works */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 700);
  }
  schema.addEventListener("input", later);
  ui.addEventListener("input", later);
}());
