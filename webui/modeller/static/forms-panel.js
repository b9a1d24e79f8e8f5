/* The modeller page's forms panel: the process's task forms edited beside the diagram.
 *
 * The page's diagram request brings every form file of the diagram's folder (and, when a
 * draft is opened, the forms saved with it); this script keeps the process owner's edits
 * of them in the browser, shows the chosen form rendered by the server exactly as a task
 * page renders it (the same preview as the form editor page), and follows the diagram: a
 * selected user task opens its form. A new form starts from a template and gets its name
 * under forms/; the properties panel then offers it for a user task (the event
 * "kedja:forms-changed"). modeller.js sends what changed (section.kedjaForms.changed())
 * with the diagram, so "Validera", "Spara utkast" and "Driftsätt" check, keep and deploy
 * the forms and the diagram together — the only way a new form can be deployed, since the
 * engine versions only the files a process uses. Names are relative to the diagram's
 * folder, as a user task's formJsonSchemaFilename writes them.
 */
(function () {
  "use strict";

  var section = document.getElementById("modeller");
  var panel = document.getElementById("modeller-forms");
  if (!section || !panel || !window.fetch) {
    return;
  }
  var SCHEMA = ".schema.json";
  var UI = ".uischema.json";
  var NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
  var choice = document.getElementById("formular-val");
  var areas = {
    schema: document.getElementById("formular-schema"),
    ui: document.getElementById("formular-ui")
  };
  var preview = document.getElementById("formularpanel-visning");
  var newName = document.getElementById("formular-nytt-namn");
  var newError = document.getElementById("formular-nytt-namn-fel");
  var status = document.getElementById("formular-status");
  var templates = JSON.parse(panel.getAttribute("data-templates") || "{}");
  var files = {}; // name -> { text: what the editor holds, stored: deployed text or null }
  var current = null; // the schema file shown
  var timer = null;
  var asked = 0;

  function text(name) {
    return panel.getAttribute("data-" + name) || "";
  }

  function uiOf(schemaName) {
    return schemaName.slice(0, -SCHEMA.length) + UI;
  }

  function schemaNames() {
    return Object.keys(files).filter(function (name) {
      return name.slice(-SCHEMA.length) === SCHEMA;
    }).sort();
  }

  function changed(name) {
    var file = files[name];
    return Boolean(file) && file.text !== file.stored;
  }

  function label(name) {
    var suffix = "";
    if (files[name].stored === null) {
      suffix = " " + text("new");
    } else if (changed(name) || changed(uiOf(name))) {
      suffix = " " + text("changed");
    }
    return name + suffix;
  }

  function fillChoice() {
    choice.textContent = "";
    schemaNames().forEach(function (name) {
      var item = document.createElement("option");
      item.value = name;
      item.textContent = label(name);
      choice.appendChild(item);
    });
    if (current) {
      choice.value = current;
    }
    choice.disabled = !current;
    areas.schema.disabled = !current;
    areas.ui.disabled = !current;
    if (!current) {
      preview.textContent = text("none");
    }
  }

  function announceForms() {
    section.dispatchEvent(
      new CustomEvent("kedja:forms-changed", {
        detail: { forms: Object.keys(files).sort() }
      })
    );
  }

  function showError(which, message) {
    var area = areas[which];
    var error = document.getElementById("formular-" + which + "-fel");
    error.textContent = message || "";
    error.hidden = !message;
    if (message) {
      area.setAttribute("aria-invalid", "true");
      area.setAttribute("aria-describedby", error.id);
    } else {
      area.removeAttribute("aria-invalid");
      area.removeAttribute("aria-describedby");
    }
  }

  function refresh() {
    if (!current) {
      return;
    }
    var mine = ++asked;
    fetch(panel.getAttribute("data-preview-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": section.getAttribute("data-csrf")
      },
      body: JSON.stringify({ schema: areas.schema.value, ui: areas.ui.value })
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        if (mine !== asked) {
          return; // a later edit asked again; its answer is the one to show
        }
        var errors = answer.errors || {};
        showError("schema", errors.schema);
        showError("ui", errors.ui);
        if (answer.ok) {
          preview.innerHTML = answer.html; // rendered and escaped by the server (webui.forms)
          if (answer.title) {
            var title = document.createElement("p");
            title.className = "form-preview-title";
            title.setAttribute("lang", "sv");
            title.textContent = answer.title;
            preview.insertBefore(title, preview.firstChild);
          }
        }
        panel.setAttribute("data-previewed", String(mine));
      })
      .catch(function () {
        preview.textContent = text("preview-failed");
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 500);
  }

  function keep() {
    if (!current) {
      return;
    }
    files[current].text = areas.schema.value;
    var ui = uiOf(current);
    if (!files[ui]) {
      files[ui] = { text: "{}\n", stored: null };
    }
    files[ui].text = areas.ui.value;
  }

  function open(name) {
    if (!files[name]) {
      return;
    }
    keep();
    current = name;
    var ui = uiOf(name);
    if (!files[ui]) {
      files[ui] = { text: "{}\n", stored: null };
    }
    areas.schema.value = files[name].text;
    areas.ui.value = files[ui].text;
    fillChoice();
    refresh();
  }

  function revert() {
    if (!current) {
      return;
    }
    var ui = uiOf(current);
    if (files[current].stored === null) {
      // a new form: going back means it was never made
      delete files[current];
      delete files[ui];
      current = null;
      var rest = schemaNames();
      if (rest.length) {
        current = rest[0];
        areas.schema.value = files[current].text;
        areas.ui.value = (files[uiOf(current)] || { text: "{}\n" }).text;
      } else {
        areas.schema.value = "";
        areas.ui.value = "";
      }
      announceForms();
    } else {
      files[current].text = files[current].stored;
      if (files[ui]) {
        files[ui].text = files[ui].stored === null ? "{}\n" : files[ui].stored;
      }
      areas.schema.value = files[current].text;
      areas.ui.value = files[ui] ? files[ui].text : "{}\n";
    }
    fillChoice();
    refresh();
  }

  function create() {
    var stem = newName.value.trim();
    var name = "forms/" + stem + SCHEMA;
    var message = "";
    if (!NAME.test(stem)) {
      message = text("bad-name");
    } else if (files[name]) {
      message = text("exists");
    }
    newError.textContent = message;
    newError.hidden = !message;
    if (message) {
      newName.setAttribute("aria-invalid", "true");
      newName.setAttribute("aria-describedby", "formular-nytt-namn-hjalp " + newError.id);
      newName.focus();
      status.textContent = "";
      return;
    }
    newName.removeAttribute("aria-invalid");
    newName.setAttribute("aria-describedby", "formular-nytt-namn-hjalp");
    var template = templates[document.getElementById("formular-mall").value] || templates.tom;
    keep();
    files[name] = { text: template.schema, stored: null };
    files[uiOf(name)] = { text: template.ui, stored: null };
    newName.value = "";
    open(name);
    announceForms();
    status.textContent = text("created");
  }

  function formOf(element) {
    var bo = element && element.businessObject;
    if (!bo || !bo.$instanceOf || !bo.$instanceOf("bpmn:UserTask") || !bo.extensionElements) {
      return null;
    }
    var found = null;
    (bo.extensionElements.get("values") || []).forEach(function (ext) {
      if (ext.$instanceOf && ext.$instanceOf("spiffworkflow:Properties")) {
        (ext.get("values") || []).forEach(function (property) {
          if (property.name === "formJsonSchemaFilename") {
            found = property.value;
          }
        });
      }
    });
    return found;
  }

  Object.keys(areas).forEach(function (which) {
    areas[which].addEventListener("input", function () {
      keep();
      fillChoice();
      later();
    });
  });
  choice.addEventListener("change", function () {
    open(choice.value);
  });
  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) {
      return;
    }
    if (button.getAttribute("data-action") === "new-form") {
      create();
    } else if (button.getAttribute("data-action") === "revert-form") {
      revert();
    }
  });
  newName.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      create();
    }
  });

  section.kedjaForms = {
    // every form file whose text differs from the deployed one (new files included)
    changed: function () {
      keep();
      var result = {};
      Object.keys(files).forEach(function (name) {
        if (changed(name)) {
          result[name] = files[name].text;
        }
      });
      return result;
    }
  };

  section.addEventListener("kedja:modeller-ready", function (event) {
    var detail = event.detail;
    var stored = detail.formTexts || {};
    var drafts = detail.formDrafts || {};
    Object.keys(stored).forEach(function (name) {
      files[name] = { text: stored[name], stored: stored[name] };
    });
    Object.keys(drafts).forEach(function (name) {
      if (files[name]) {
        files[name].text = drafts[name];
      } else {
        files[name] = { text: drafts[name], stored: null };
      }
    });
    var names = schemaNames();
    panel.hidden = false;
    if (names.length) {
      open(names[0]);
    } else {
      fillChoice();
    }
    if (Object.keys(drafts).length) {
      announceForms();
    }
    detail.modeler.get("eventBus").on("selection.changed", function (change) {
      var selected = change.newSelection || [];
      var name = selected.length === 1 ? formOf(selected[0]) : null;
      if (name && files[name] && name !== current) {
        open(name);
      }
    });
  });
})();
