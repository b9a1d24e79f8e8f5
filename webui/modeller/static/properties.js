/* The modeller's properties panel: the properties Kedja reads, for the selected element.
 *
 * The panel (templates/modeller/properties.html) is a plain server-rendered form, one
 * fieldset per group; this script shows the groups that apply to the selected element, fills
 * them from its business object and writes each committed change ("change" event: on leaving
 * a field, or choosing in a select) through bpmn-js's modeling.updateProperties /
 * updateModdleProperties — one command per change, so the command stack's undo/redo take
 * it back and forth, and "Validera" checks exactly what the diagram now says. SpiffWorkflow's
 * extension elements are typed moddle elements (static/spiffworkflow.json), so a form file or
 * due date is a spiffworkflow:Property whose value is set, never XML text edited by hand.
 *
 * What is read and written (docs/processes.md): name and documentation of any element; a
 * lane's name, chosen from the roles (/modeller/roller.json); a user task's
 * formJsonSchemaFilename / formUiSchemaFilename (chosen from the definition's form files) and
 * dueDate; a timer's timeDate / timeDuration / timeCycle expression; a call activity's
 * calledElement; a sequence flow's condition.
 */
(function () {
  "use strict";

  var section = document.getElementById("modeller");
  var panel = document.getElementById("modeller-properties");
  if (!section || !panel || !window.fetch) {
    return;
  }
  var form = panel.querySelector("form");
  var status = document.getElementById("egenskaper-vald");
  var modeler = null;
  var modeling = null;
  var moddle = null;
  var forms = [];
  var lanes = [];
  var current = null;
  var dirty = null; // a field typed in and not yet committed (no "change" event yet)

  function text(name) {
    return panel.getAttribute("data-" + name) || "";
  }

  function field(property) {
    return form.querySelector("[data-property=" + property + "]");
  }

  function find(list, test) {
    for (var i = 0; i < (list || []).length; i += 1) {
      if (test(list[i])) {
        return list[i];
      }
    }
    return null;
  }

  function is(bo, type) {
    return Boolean(bo && bo.$instanceOf && bo.$instanceOf(type));
  }

  // -- reading the business object ------------------------------------------------------------

  function spiffProperties(bo) {
    var ext = bo.extensionElements;
    return ext ? find(ext.get("values"), function (v) {
      return is(v, "spiffworkflow:Properties");
    }) : null;
  }

  function spiffProperty(bo, name) {
    var props = spiffProperties(bo);
    return props ? find(props.get("values"), function (p) {
      return p.name === name;
    }) : null;
  }

  function timerDefinition(bo) {
    return find(bo.eventDefinitions, function (d) {
      return is(d, "bpmn:TimerEventDefinition");
    });
  }

  function timerKind(definition) {
    return find(["timeDate", "timeDuration", "timeCycle"], function (kind) {
      return Boolean(definition.get(kind));
    });
  }

  function conditional(bo) {
    return is(bo, "bpmn:SequenceFlow") &&
      (is(bo.sourceRef, "bpmn:Gateway") || Boolean(bo.conditionExpression));
  }

  // -- filling the form -------------------------------------------------------------------------

  function option(select, value, label) {
    var item = document.createElement("option");
    item.value = value;
    item.textContent = label;
    select.appendChild(item);
  }

  function fillChoice(select, values, chosen, noneLabel, strangeLabel) {
    select.textContent = "";
    option(select, "", noneLabel);
    values.forEach(function (value) {
      option(select, value, value);
    });
    if (chosen && values.indexOf(chosen) < 0) {
      option(select, chosen, chosen + " " + strangeLabel);
    }
    select.value = chosen || "";
  }

  function showGroup(name, shown) {
    form.querySelector("fieldset[data-group=" + name + "]").hidden = !shown;
  }

  function show(element) {
    if (element && element.labelTarget) {
      element = element.labelTarget;
    }
    current = element || null;
    var groups = ["general", "lane", "userTask", "timer", "callActivity", "condition"];
    if (!current) {
      groups.forEach(function (name) {
        showGroup(name, false);
      });
      status.textContent = text("none");
      return;
    }
    var bo = current.businessObject;
    status.textContent = text("selected") + " " + (bo.name ? bo.name + " " : "") + "(" + bo.id + ")";
    var lane = is(bo, "bpmn:Lane");
    var timer = timerDefinition(bo);
    showGroup("general", true);
    form.querySelector("[data-field=name]").hidden = lane;
    field("name").value = bo.name || "";
    var doc = (bo.get("documentation") || [])[0];
    field("documentation").value = doc ? doc.text || "" : "";

    showGroup("lane", lane);
    if (lane) {
      fillChoice(field("lane"), lanes, bo.name, text("no-role"), text("not-role"));
    }

    var userTask = is(bo, "bpmn:UserTask");
    showGroup("userTask", userTask);
    if (userTask) {
      ["formJsonSchemaFilename", "formUiSchemaFilename"].forEach(function (name) {
        var select = field(name);
        var suffix = select.getAttribute("data-suffix");
        var prop = spiffProperty(bo, name);
        var files = forms.filter(function (f) {
          return f.slice(-suffix.length) === suffix;
        });
        fillChoice(select, files, prop ? prop.value : "", text("no-form"), text("missing"));
      });
      var due = spiffProperty(bo, "dueDate");
      field("dueDate").value = due ? due.value || "" : "";
    }

    showGroup("timer", Boolean(timer));
    if (timer) {
      var kind = timerKind(timer) || "timeDate";
      var expression = timer.get(kind);
      field("timerKind").value = kind;
      field("timer").value = expression ? expression.body || "" : "";
    }

    var call = is(bo, "bpmn:CallActivity");
    showGroup("callActivity", call);
    if (call) {
      field("calledElement").value = bo.calledElement || "";
    }

    var flow = conditional(bo);
    showGroup("condition", flow);
    if (flow) {
      field("condition").value = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
    }
  }

  // -- writing through modeling (one command per change) --------------------------------------

  function create(type, attrs, parent) {
    var element = moddle.create(type, attrs);
    element.$parent = parent;
    return element;
  }

  function setDocumentation(element, value) {
    var bo = element.businessObject;
    var docs = bo.get("documentation") || [];
    if (value && docs[0]) {
      modeling.updateModdleProperties(element, docs[0], { text: value });
    } else if (value) {
      modeling.updateProperties(element, {
        documentation: [create("bpmn:Documentation", { text: value }, bo)]
      });
    } else if (docs[0]) {
      modeling.updateProperties(element, { documentation: docs.slice(1) });
    }
  }

  function setSpiffProperty(element, name, value) {
    var bo = element.businessObject;
    var ext = bo.extensionElements;
    var props = spiffProperties(bo);
    var prop = spiffProperty(bo, name);
    if (prop) {
      if (value) {
        modeling.updateModdleProperties(element, prop, { value: value });
      } else {
        modeling.updateModdleProperties(element, props, {
          values: props.get("values").filter(function (p) {
            return p !== prop;
          })
        });
      }
      return;
    }
    if (!value) {
      return;
    }
    if (props) {
      prop = create("spiffworkflow:Property", { name: name, value: value }, props);
      modeling.updateModdleProperties(element, props, {
        values: props.get("values").concat([prop])
      });
      return;
    }
    props = create("spiffworkflow:Properties", {}, ext);
    props.get("values").push(create("spiffworkflow:Property", { name: name, value: value }, props));
    if (ext) {
      modeling.updateModdleProperties(element, ext, { values: ext.get("values").concat([props]) });
      return;
    }
    ext = create("bpmn:ExtensionElements", { values: [props] }, bo);
    props.$parent = ext;
    modeling.updateProperties(element, { extensionElements: ext });
  }

  function setTimer(element) {
    var definition = timerDefinition(element.businessObject);
    var kind = field("timerKind").value;
    var body = field("timer").value.trim();
    if (body && timerKind(definition) === kind) {
      modeling.updateModdleProperties(element, definition.get(kind), { body: body });
      return;
    }
    var update = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
    if (body) {
      update[kind] = create("bpmn:FormalExpression", { body: body }, definition);
    }
    modeling.updateModdleProperties(element, definition, update);
  }

  function setCondition(element, value) {
    var bo = element.businessObject;
    var expression = bo.conditionExpression;
    if (value && expression) {
      modeling.updateModdleProperties(element, expression, { body: value });
    } else if (value) {
      modeling.updateProperties(element, {
        conditionExpression: create("bpmn:FormalExpression", { body: value }, bo)
      });
    } else if (expression) {
      modeling.updateProperties(element, { conditionExpression: undefined });
    }
  }

  function apply(event) {
    var target = event.target;
    var property = target.getAttribute("data-property");
    var element = current;
    if (!property || !element) {
      return;
    }
    dirty = null;
    var value = target.value.trim();
    if (property === "name" || property === "lane") {
      modeling.updateProperties(element, { name: value || undefined });
    } else if (property === "documentation") {
      setDocumentation(element, value);
    } else if (property === "timer" || property === "timerKind") {
      setTimer(element);
    } else if (property === "calledElement") {
      modeling.updateProperties(element, { calledElement: value || undefined });
    } else if (property === "condition") {
      setCondition(element, value);
    } else {
      setSpiffProperty(element, property, value);
    }
  }

  // -- wiring -----------------------------------------------------------------------------------

  function calendarHint(names) {
    var holder = panel.querySelector(".modeller-calendar");
    holder.textContent = "";
    names.forEach(function (name, index) {
      var code = document.createElement("code");
      code.textContent = name;
      holder.appendChild(code);
      holder.appendChild(document.createTextNode(index < names.length - 1 ? ", " : "."));
    });
  }

  section.addEventListener("kedja:modeller-ready", function (event) {
    modeler = event.detail.modeler;
    forms = event.detail.forms || [];
    modeling = modeler.get("modeling");
    moddle = modeler.get("moddle");
    var registry = modeler.get("elementRegistry");
    form.addEventListener("submit", function (submitted) {
      submitted.preventDefault();
    });
    form.addEventListener("change", apply);
    form.addEventListener("input", function (typed) {
      dirty = typed.target;
    });
    modeler.on("selection.changed", function (changed) {
      // Choosing another element with the mouse may select it before the field being typed
      // in loses focus: write the typing to the element it was meant for first.
      if (dirty) {
        apply({ target: dirty });
      }
      show(changed.newSelection.length === 1 ? changed.newSelection[0] : null);
    });
    // undo, redo and edits on the canvas change what the panel shows
    modeler.on("commandStack.changed", function () {
      show(current ? registry.get(current.id) : null);
    });
    fetch(text("roles-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : { lanes: [], calendar: [] };
      })
      .catch(function () {
        return { lanes: [], calendar: [] };
      })
      .then(function (data) {
        lanes = (data.lanes || []).map(function (lane) {
          return lane.name;
        });
        calendarHint(data.calendar || []);
        show(current);
        panel.hidden = false;
        panel.setAttribute("data-ready", "true");
      });
  });
})();
