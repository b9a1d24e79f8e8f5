/* The modeller page: bpmn-js's Modeler on the definition's stored diagram, with the server's
 * checks shown on the diagram itself.
 *
 * The server does every check (the same as deploying); this script only sends the edited XML
 * and shows the answer: each problem's drawn element gets the CSS marker "kedja-problem" and
 * an overlay with the message, and the same problems are listed as text, each with a button
 * that selects and scrolls to its element — the list is what a screen-reader or keyboard
 * user works from. The page works without this script (download, upload form, versions).
 * The Modeler is exposed as window.kedjaModeller so the browser tests drive the same
 * instance a process owner uses. It reads SpiffWorkflow's extension elements through the
 * moddle descriptor spiffworkflow.json; properties.js adds the properties panel and
 * forms-panel.js the forms edited beside the diagram, which are sent with it.
 */
(function () {
  "use strict";

  var section = document.getElementById("modeller");
  var holder = document.getElementById("modeller-canvas");
  if (!section || !holder || typeof window.BpmnJS !== "function" || !window.fetch) {
    return;
  }
  var result = document.getElementById("modeller-result");
  var toolbar = section.querySelector(".modeller-toolbar");
  var modeler = null;
  var marked = [];

  function text(name) {
    return section.getAttribute("data-" + name) || "";
  }

  function fail() {
    var fallback = document.createElement("p");
    fallback.className = "diagram-fallback";
    fallback.textContent = text("failed");
    holder.textContent = "";
    holder.appendChild(fallback);
  }

  function clearMarks() {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    marked.forEach(function (id) {
      if (registry.get(id)) {
        // an element removed since the last check has no marker left to remove
        canvas.removeMarker(id, "kedja-problem");
      }
    });
    marked = [];
    modeler.get("overlays").remove({ type: "kedja-problem" });
  }

  function select(id) {
    var element = modeler.get("elementRegistry").get(id);
    if (!element) {
      return;
    }
    modeler.get("selection").select(element);
    var canvas = modeler.get("canvas");
    if (typeof canvas.scrollToElement === "function") {
      canvas.scrollToElement(element);
    }
    holder.focus();
  }

  function describe(problem) {
    var parts = [];
    if (problem.element) {
      parts.push(problem.element + ": ");
    }
    parts.push(problem.message);
    if (problem.hint) {
      parts.push(" — " + problem.hint);
    }
    if (problem.file && problem.file !== section.getAttribute("data-file")) {
      parts.push(" (" + problem.file + ")");
    }
    return parts.join("");
  }

  function mark(problem) {
    var registry = modeler.get("elementRegistry");
    if (!problem.shape || !registry.get(problem.shape)) {
      return false;
    }
    if (marked.indexOf(problem.shape) < 0) {
      modeler.get("canvas").addMarker(problem.shape, "kedja-problem");
      marked.push(problem.shape);
    }
    var note = document.createElement("div");
    note.className = "kedja-problem-note";
    note.setAttribute("data-element", problem.shape);
    note.textContent = problem.message;
    modeler.get("overlays").add(problem.shape, "kedja-problem", {
      position: { top: -8, left: 0 },
      html: note
    });
    return true;
  }

  function show(problems) {
    clearMarks();
    result.textContent = "";
    var heading = document.createElement("p");
    heading.className = problems.length ? "modeller-problems-heading" : "modeller-clean";
    heading.textContent = problems.length ? text("count") : text("clean");
    result.appendChild(heading);
    if (!problems.length) {
      return;
    }
    var list = document.createElement("ul");
    list.className = "modeller-problems";
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      var shown = mark(problem);
      if (shown) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link";
        button.setAttribute("data-element", problem.shape);
        button.textContent = describe(problem);
        button.addEventListener("click", function () {
          select(problem.shape);
        });
        item.appendChild(button);
      } else {
        item.textContent = describe(problem);
      }
      list.appendChild(item);
    });
    result.appendChild(list);
    result.focus();
  }

  // -- opening and saving: bpmn-js plus the layout it cannot show ------------------------------

  var DI = "http://www.omg.org/spec/BPMN/20100524/DI";
  var opened = null; // the document as it was opened, for keepLayout
  var heldAtOpen = {}; // DI id -> the attributes bpmn-js wrote for it just after opening

  function byId(doc) {
    var ids = {};
    var all = doc.getElementsByTagName("*");
    for (var i = 0; i < all.length; i += 1) {
      if (all[i].hasAttribute("id")) {
        ids[all[i].getAttribute("id")] = all[i];
      }
    }
    return ids;
  }

  function diagramElements(doc) {
    var found = [];
    ["BPMNShape", "BPMNEdge"].forEach(function (name) {
      var list = doc.getElementsByTagNameNS(DI, name);
      for (var i = 0; i < list.length; i += 1) {
        found.push(list[i]);
      }
    });
    return found;
  }

  // bpmn-js draws a collaboration from its pools only, so the layout of a process no pool
  // shows is dropped on import (MIWG B.1.0, B.2.0), as is an edge that draws no element
  // (C.7.0) and a DI attribute bpmn-moddle does not know (messageVisibleKind). Put back,
  // from the document as opened, every shape and edge whose element still exists (or that
  // draws none) and every attribute of a kept shape or edge that bpmn-js dropped on opening:
  // what the process owner deleted or changed stays so, what bpmn-js could not hold is not
  // lost (docs/modeller.md).
  function keepLayout(original, savedXml) {
    if (!original) {
      return savedXml;
    }
    var saved = new DOMParser().parseFromString(savedXml, "application/xml");
    var planes = saved.getElementsByTagNameNS(DI, "BPMNPlane");
    if (saved.getElementsByTagName("parsererror").length || !planes.length) {
      return savedXml;
    }
    var ids = byId(saved);
    var drawn = {};
    diagramElements(saved).forEach(function (di) {
      drawn[di.getAttribute("bpmnElement")] = true;
    });
    var changed = false;
    diagramElements(original).forEach(function (di) {
      var ref = di.getAttribute("bpmnElement");
      var id = di.getAttribute("id");
      var kept = id ? ids[id] : null;
      if (kept && kept.namespaceURI === DI) {
        var held = heldAtOpen[id] || {};
        for (var i = 0; i < di.attributes.length; i += 1) {
          var attribute = di.attributes[i];
          // only what bpmn-js dropped when it opened the file: an attribute it held then
          // and not now was changed by the process owner (a gateway's marker switched off)
          if (!held[attribute.name] && !kept.hasAttribute(attribute.name)) {
            kept.setAttributeNS(attribute.namespaceURI, attribute.name, attribute.value);
            changed = true;
          }
        }
        return;
      }
      if (kept || (ref && (!ids[ref] || drawn[ref]))) {
        return;
      }
      var plane = ids[di.parentNode.getAttribute("id")];
      if (!plane || plane.localName !== "BPMNPlane") {
        plane = planes[0];
      }
      plane.appendChild(saved.importNode(di, true));
      changed = true;
    });
    return changed ? new XMLSerializer().serializeToString(saved) : savedXml;
  }

  // The attributes of each shape and edge as bpmn-js writes them right after opening:
  // what it holds of the file, so keepLayout can tell a loss from a change.
  function attributesHeld(xml) {
    var held = {};
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    diagramElements(doc).forEach(function (di) {
      var names = {};
      for (var i = 0; i < di.attributes.length; i += 1) {
        names[di.attributes[i].name] = true;
      }
      held[di.getAttribute("id")] = names;
    });
    return held;
  }

  function openXML(xml) {
    var parsed = new DOMParser().parseFromString(xml, "application/xml");
    opened = parsed.getElementsByTagName("parsererror").length ? null : parsed;
    heldAtOpen = {};
    return modeler.importXML(xml).then(function (result) {
      if (!opened) {
        return result;
      }
      return modeler.saveXML().then(function (first) {
        heldAtOpen = attributesHeld(first.xml);
        return result;
      });
    });
  }

  function saveXML() {
    return modeler.saveXML({ format: true }).then(function (saved) {
      return { xml: keepLayout(opened, saved.xml) };
    });
  }

  function post(url, busy) {
    result.textContent = busy;
    return saveXML()
      .then(function (saved) {
        return fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRFToken": text("csrf")
          },
          body: JSON.stringify({
            xml: saved.xml,
            file: section.getAttribute("data-file"),
            version: section.getAttribute("data-version"),
            // the forms edited beside the diagram go with it (forms-panel.js)
            forms: section.kedjaForms ? section.kedjaForms.changed() : {}
          })
        });
      })
      .then(function (response) {
        return response.json().then(function (body) {
          return { status: response.status, body: body };
        });
      })
      .catch(function () {
        result.textContent = text("error");
        return null;
      });
  }

  function validate() {
    post(text("validate-url"), text("checking")).then(function (answer) {
      if (answer) {
        show(answer.body.problems || []);
      }
    });
  }

  function deploy() {
    if (!window.confirm(text("confirm"))) {
      return;
    }
    post(text("deploy-url"), text("deploying")).then(function (answer) {
      if (!answer) {
        return;
      }
      if (answer.body.ok) {
        window.location.assign(answer.body.url);
      } else {
        show(answer.body.problems || []);
      }
    });
  }

  // Saves without deploying; the answer also says what the checks found, shown as by
  // "Validera", after the line that says the draft is saved.
  function saveDraft() {
    post(text("draft-url"), text("saving")).then(function (answer) {
      if (!answer) {
        return;
      }
      if (!answer.body.ok) {
        result.textContent = answer.body.message || text("error");
        return;
      }
      show(answer.body.problems || []);
      var saved = document.createElement("p");
      saved.className = "modeller-draft-saved";
      saved.textContent = answer.body.message;
      result.insertBefore(saved, result.firstChild);
    });
  }

  toolbar.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button || !modeler) {
      return;
    }
    var action = button.getAttribute("data-action");
    if (action === "validate") {
      validate();
    } else if (action === "draft") {
      saveDraft();
    } else if (action === "deploy") {
      deploy();
    }
  });

  function getJSON(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  // The SpiffWorkflow descriptor makes Kedja's extension elements typed moddle elements
  // (edited by the properties panel, written back as they were read).
  Promise.all([getJSON(text("diagram-url")), getJSON(text("descriptor-url"))])
    .then(function (loaded) {
      var data = loaded[0];
      holder.textContent = "";
      holder.setAttribute("tabindex", "-1");
      modeler = new window.BpmnJS({
        container: holder,
        moddleExtensions: { spiffworkflow: loaded[1] }
      });
      window.kedjaModeller = modeler;
      // the page's own open and save, for the tests that check what a round trip keeps
      window.kedjaModellerFiles = { open: openXML, save: saveXML };
      return openXML(data.xml).then(function () {
        var svg = holder.querySelector("svg");
        if (svg) {
          svg.setAttribute("role", "img");
          svg.setAttribute("aria-label", text("label"));
        }
        modeler.get("canvas").zoom("fit-viewport", "auto");
        toolbar.hidden = false;
        // properties.js builds its panel on this (it needs the Modeler and the form files)
        section.dispatchEvent(
          new CustomEvent("kedja:modeller-ready", {
            detail: {
              modeler: modeler,
              forms: data.forms || [],
              formTexts: data.form_texts || {},
              formDrafts: data.form_drafts || {}
            }
          })
        );
        section.setAttribute("data-ready", "true");
      });
    })
    .catch(fail);
})();
