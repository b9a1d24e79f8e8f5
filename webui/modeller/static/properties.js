/* The modeller's properties panel: the properties Kedja reads, for the selected element.
 *
 * The panel (templates/modeller/properties.html) is a plain server-rendered form, one
 * fieldset per group; this script shows the groups that apply to the selected element, fills
 * them from its business object and writes each committed change ("change" event: on leaving
 * a field, or choosing in a select; a button for adding or removing a row) through bpmn-js's
 * modeling.updateProperties / updateModdleProperties — one command per change, so the command
 * stack's undo/redo take it back and forth, and "Validera" checks exactly what the diagram
 * now says. A change that touches several model elements (a new message is added to the
 * definitions and chosen) runs its commands inside one command ("kedja.properties.multi"),
 * so one undo takes all of it back. SpiffWorkflow's extension elements are typed moddle
 * elements (static/spiffworkflow.json), so a form file or a service parameter is a moddle
 * element whose attributes are set, never XML text edited by hand.
 *
 * This file is the core: reading the business object, filling the form, writing through
 * modeling, dispatching a change or a button to the group it belongs to, and the wiring to
 * the modeller (modeller.js's "kedja:modeller-ready") and the forms panel (forms-panel.js's
 * "kedja:forms-changed"). Its own groups are the small ones (docs/processes.md): name and
 * documentation of any element; a lane's name, chosen from the roles (/modeller/roller.json);
 * a user task's formJsonSchemaFilename / formUiSchemaFilename (chosen from the definition's
 * form files), dueDate, priority and who gets it besides the lane's role (candidateUsers,
 * candidateGroups and the expressions candidateUsersFrom, candidateGroupsFrom, roleFrom); a
 * timer's timeDate / timeDuration / timeCycle expression; a call activity's calledElement;
 * a sequence flow's condition. The larger groups are files of
 * their own, loaded after this one: properties-messages.js (a message event's or
 * receive/send task's message, variable or payload, and correlation),
 * properties-multi-instance.js (an activity's multi-instance loop), properties-service.js
 * (a service task's operator, result variable and parameters) and properties-scripts.js (a
 * script task's script, an activity's pre- and post-script).
 *
 * The seam is window.kedjaProperties: register(name, group) adds the group of the fieldset
 * data-group=name — applies(bo) says whether it is shown for a business object, fill(bo)
 * fills its fields, writers maps a field's data-property to function (element, value, input,
 * rowIndex), actions maps a button's data-action to function (element, rowIndex), and the
 * optional load() returns a promise of what the group needs from the server before the panel
 * opens. The other names on it are the helpers the groups share, so a group file reads like
 * the core: the same field(), run(), update(), refuse() and so on.
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
  var MULTI = "kedja.properties.multi";
  // what SpiffWorkflow can use as a variable name (a data item's id is its variable)
  var IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_]*$/u;
  // A user task's properties that are plain text or expressions, written as they are typed.
  var ASSIGNMENT = ["dueDate", "priority", "candidateUsers", "candidateGroups",
    "candidateUsersFrom", "candidateGroupsFrom", "roleFrom"];
  var groups = []; // in the order registered: the order the groups are filled
  var writers = {}; // data-property -> the writer of the group that has the field
  var actions = {}; // data-action -> the action of the group that has the button
  var modeler = null;
  var modeling = null;
  var moddle = null;
  var commandStack = null;
  var forms = [];
  var lanes = [];
  var current = null;
  var shown = null; // the element the form was last filled from
  var dirty = null; // a field typed in and not yet committed (no "change" event yet)

  function text(name) {
    return panel.getAttribute("data-" + name) || "";
  }

  function field(property) {
    return form.querySelector("[data-property=" + property + "]");
  }

  function part(name) {
    return form.querySelector("[data-field=" + name + "]");
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

  // -- groups -----------------------------------------------------------------------------------

  // A property or action names one group's field or button: a second claim is a mistake in
  // the group files, said at once rather than one group silently writing another's field.
  function claimAll(table, entries, kind) {
    Object.keys(entries || {}).forEach(function (key) {
      if (table[key]) {
        throw new Error("properties: two groups handle the " + kind + " " + key);
      }
      table[key] = entries[key];
    });
  }

  function register(name, group) {
    claimAll(writers, group.writers, "property");
    claimAll(actions, group.actions, "action");
    groups.push({
      name: name,
      applies: group.applies,
      fill: group.fill,
      load: group.load
    });
  }

  // -- reading the business object ------------------------------------------------------------

  function extension(holder, type) {
    var ext = holder && holder.extensionElements;
    return ext ? find(ext.get("values"), function (v) {
      return is(v, type);
    }) : null;
  }

  function spiffProperties(bo) {
    return extension(bo, "spiffworkflow:Properties");
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

  function definitions() {
    return modeler.getDefinitions();
  }

  function rootElements(type) {
    return definitions().get("rootElements").filter(function (root) {
      return is(root, type);
    });
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
    if (noneLabel) {
      option(select, "", noneLabel);
    }
    values.forEach(function (value) {
      option(select, value, value);
    });
    if (chosen && values.indexOf(chosen) < 0) {
      option(select, chosen, chosen + " " + strangeLabel);
    }
    select.value = chosen || "";
  }

  function showGroup(name, visible) {
    form.querySelector("fieldset[data-group=" + name + "]").hidden = !visible;
  }

  // A list of rows (correlation properties, service parameters) drawn from a template, one
  // per model element. `rows` is the list's { name: its data-rows, template: the id of its
  // <template>, prefix: of its fields' ids }. Existing rows are reused, so the field being
  // worked in keeps focus.
  function renderRows(rows, count, fill) {
    var list = form.querySelector("[data-rows=" + rows.name + "]");
    var template = document.getElementById(rows.template);
    while (list.children.length > count) {
      list.removeChild(list.lastElementChild);
    }
    while (list.children.length < count) {
      var number = String(list.children.length + 1);
      var row = template.content.firstElementChild.cloneNode(true);
      row.setAttribute("data-row", String(list.children.length));
      row.querySelectorAll("[data-slot=number]").forEach(function (slot) {
        slot.textContent = number;
      });
      row.querySelectorAll("[data-id]").forEach(function (input) {
        input.id = rows.prefix + number + "-" + input.getAttribute("data-id");
      });
      row.querySelectorAll("label[data-for]").forEach(function (label) {
        label.htmlFor = rows.prefix + number + "-" + label.getAttribute("data-for");
      });
      list.appendChild(row);
    }
    Array.prototype.forEach.call(list.children, function (row, index) {
      fill(function (property) {
        return row.querySelector("[data-property=" + property + "]");
      }, index);
    });
  }

  // After a row is added or removed: focus the row now at `index` (its first field, its text
  // selected for a new row to be named), or the list's add button when no row is left.
  function focusRow(rows, index, select) {
    var list = form.querySelector("[data-rows=" + rows.name + "]");
    var row = list.children[Math.min(index, list.children.length - 1)];
    var target = row ? row.querySelector("input, textarea")
      : list.parentNode.querySelector("button[data-action^=add]");
    target.focus();
    if (select && target.select) {
      target.select();
    }
  }

  // A refused change is said beside its field (created here, tied to the field with
  // aria-describedby, announced as an alert).
  function clearErrors() {
    form.querySelectorAll("[aria-invalid]").forEach(accept);
  }

  function show(element, fresh) {
    if (element && element.labelTarget) {
      element = element.labelTarget;
    }
    current = element || null;
    // After a refused change the field keeps what was typed (and its error) while the same
    // element stays selected and other fields are changed; another element, undo and redo
    // show what the diagram says.
    var kept = [];
    if (current && current === shown && !fresh) {
      form.querySelectorAll("[aria-invalid=true]").forEach(function (input) {
        kept.push({ input: input, value: input.value });
      });
    } else {
      clearErrors();
    }
    shown = current;
    if (!current) {
      groups.forEach(function (group) {
        showGroup(group.name, false);
      });
      status.textContent = text("none");
      return;
    }
    var bo = current.businessObject;
    status.textContent = text("selected") + " " + (bo.name ? bo.name + " " : "") + "(" + bo.id + ")";
    groups.forEach(function (group) {
      var applies = group.applies(bo);
      showGroup(group.name, applies);
      if (applies) {
        group.fill(bo);
      }
    });
    kept.forEach(function (entry) {
      if (entry.input.isConnected) {
        entry.input.value = entry.value;
      }
    });
  }

  // -- writing through modeling (one command per change) --------------------------------------

  function create(type, attrs, parent) {
    var element = moddle.create(type, attrs);
    element.$parent = parent;
    return element;
  }

  function update(element, moddleElement, properties) {
    return {
      cmd: "element.updateModdleProperties",
      context: { element: element, moddleElement: moddleElement, properties: properties }
    };
  }

  function claim(id, moddleElement) {
    return { cmd: "id.updateClaim", context: { id: id, element: moddleElement, claiming: true } };
  }

  function unclaim(id, moddleElement) {
    return { cmd: "id.updateClaim", context: { id: id, element: moddleElement } };
  }

  // Several commands as one: undo and redo take all of them at once.
  function run(commands) {
    if (commands.length === 1) {
      commandStack.execute(commands[0].cmd, commands[0].context);
    } else if (commands.length) {
      commandStack.execute(MULTI, { commands: commands });
    }
  }

  function only(property, value) {
    var properties = {};
    properties[property] = value;
    return properties;
  }

  function describedBy(input, id, add) {
    var ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (x) {
      return x && x !== id;
    });
    if (add) {
      ids.unshift(id);
    }
    if (ids.length) {
      input.setAttribute("aria-describedby", ids.join(" "));
    } else {
      input.removeAttribute("aria-describedby");
    }
  }

  function refuse(input, message) {
    var id = input.id + "-fel";
    var note = document.getElementById(id);
    if (!note) {
      note = document.createElement("p");
      note.id = id;
      note.className = "field-error";
      note.setAttribute("role", "alert");
      input.parentNode.insertBefore(note, input);
    }
    note.textContent = text(message);
    input.setAttribute("aria-invalid", "true");
    describedBy(input, id, true);
  }

  function accept(input) {
    var note = document.getElementById(input.id + "-fel");
    if (note) {
      note.parentNode.removeChild(note);
    }
    input.removeAttribute("aria-invalid");
    describedBy(input, input.id + "-fel", false);
  }

  // The moddle element that has the id in the document, or undefined.
  function assigned(id) {
    return moddle.ids.assigned(id);
  }

  // A name that becomes an id in the document (and a variable for SpiffWorkflow): the reason
  // it cannot be used, or "" when it can.
  function idProblem(value) {
    if (!value) {
      return "error-required";
    }
    if (!IDENTIFIER.test(value)) {
      return "error-name";
    }
    return assigned(value) ? "error-taken" : "";
  }

  function addExtension(element, holder, value) {
    var ext = holder.extensionElements;
    if (ext) {
      value.$parent = ext;
      return [update(element, ext, { values: ext.get("values").concat([value]) })];
    }
    ext = create("bpmn:ExtensionElements", { values: [value] }, holder);
    value.$parent = ext;
    return [update(element, holder, { extensionElements: ext })];
  }

  // -- the small groups: general, lane, user task, timer, call activity, condition -------------

  function setName(element, value) {
    modeling.updateProperties(element, { name: value || undefined });
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
    props = create("spiffworkflow:Properties", {}, null);
    props.get("values").push(create("spiffworkflow:Property", { name: name, value: value }, props));
    run(addExtension(element, bo, props));
  }

  function spiffPropertyWriter(name) {
    return function (element, value) {
      setSpiffProperty(element, name, value);
    };
  }

  function setTimer(element) {
    var definition = timerDefinition(element.businessObject);
    var kind = field("timerKind").value;
    var body = field("timer").value.trim();
    if (body && timerKind(definition) === kind) {
      modeling.updateModdleProperties(element, definition.get(kind), { body: body });
      return;
    }
    var change = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
    if (body) {
      change[kind] = create("bpmn:FormalExpression", { body: body }, definition);
    }
    modeling.updateModdleProperties(element, definition, change);
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

  register("general", {
    applies: function () {
      return true;
    },
    fill: function (bo) {
      part("name").hidden = is(bo, "bpmn:Lane"); // a lane's name is its role, chosen below
      field("name").value = bo.name || "";
      var doc = (bo.get("documentation") || [])[0];
      field("documentation").value = doc ? doc.text || "" : "";
    },
    writers: { name: setName, documentation: setDocumentation }
  });

  register("lane", {
    applies: function (bo) {
      return is(bo, "bpmn:Lane");
    },
    fill: function (bo) {
      fillChoice(field("lane"), lanes, bo.name, text("no-role"), text("not-role"));
    },
    writers: { lane: setName }
  });

  register("userTask", {
    applies: function (bo) {
      return is(bo, "bpmn:UserTask");
    },
    fill: function (bo) {
      ["formJsonSchemaFilename", "formUiSchemaFilename"].forEach(function (name) {
        var select = field(name);
        var suffix = select.getAttribute("data-suffix");
        var prop = spiffProperty(bo, name);
        var files = forms.filter(function (f) {
          return f.slice(-suffix.length) === suffix;
        });
        fillChoice(select, files, prop ? prop.value : "", text("no-form"), text("missing"));
      });
      ASSIGNMENT.forEach(function (name) {
        var prop = spiffProperty(bo, name);
        field(name).value = prop ? prop.value || "" : "";
      });
    },
    writers: (function () {
      var own = {
        formJsonSchemaFilename: spiffPropertyWriter("formJsonSchemaFilename"),
        formUiSchemaFilename: spiffPropertyWriter("formUiSchemaFilename")
      };
      ASSIGNMENT.forEach(function (name) {
        own[name] = spiffPropertyWriter(name);
      });
      own.priority = function (element, value, input) {
        // The deploy refuses anything else; say so here, and keep what was typed to correct.
        // (A number field hands over "" for text it cannot read: that is refused too, not
        // taken as "no priority".)
        var unreadable = input.validity && input.validity.badInput;
        if (unreadable || (value && !(/^[0-9]{1,3}$/.test(value) && Number(value) <= 100))) {
          refuse(input, "error-priority");
          return;
        }
        setSpiffProperty(element, "priority", value);
      };
      return own;
    })()
  });

  register("timer", {
    applies: function (bo) {
      return Boolean(timerDefinition(bo));
    },
    fill: function (bo) {
      var timer = timerDefinition(bo);
      var kind = timerKind(timer) || "timeDate";
      var expression = timer.get(kind);
      field("timerKind").value = kind;
      field("timer").value = expression ? expression.body || "" : "";
    },
    // the kind and the expression are written together: a new kind moves the expression
    writers: { timer: setTimer, timerKind: setTimer }
  });

  register("callActivity", {
    applies: function (bo) {
      return is(bo, "bpmn:CallActivity");
    },
    fill: function (bo) {
      field("calledElement").value = bo.calledElement || "";
    },
    writers: {
      calledElement: function (element, value) {
        modeling.updateProperties(element, { calledElement: value || undefined });
      }
    }
  });

  register("condition", {
    applies: conditional,
    fill: function (bo) {
      field("condition").value = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
    },
    writers: { condition: setCondition }
  });

  // -- dispatch ---------------------------------------------------------------------------------

  function rowIndex(target) {
    var row = target.closest("[data-row]");
    return row ? Number(row.getAttribute("data-row")) : -1;
  }

  function apply(event) {
    var target = event.target;
    var property = target.getAttribute("data-property");
    var element = current;
    if (!property || !element) {
      return;
    }
    dirty = null;
    accept(target);
    if (writers[property]) {
      writers[property](element, target.value.trim(), target, rowIndex(target));
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

  function getJSON(url, fallback) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : fallback;
      })
      .catch(function () {
        return fallback;
      });
  }

  // forms-panel.js made a new form (or took one back): offer the forms there are now
  section.addEventListener("kedja:forms-changed", function (event) {
    forms = event.detail.forms || [];
    if (current) {
      show(current);
    }
  });

  section.addEventListener("kedja:modeller-ready", function (event) {
    modeler = event.detail.modeler;
    forms = event.detail.forms || [];
    modeling = modeler.get("modeling");
    moddle = modeler.get("moddle");
    commandStack = modeler.get("commandStack");
    commandStack.register(MULTI, {
      preExecute: function (context) {
        context.commands.forEach(function (command) {
          commandStack.execute(command.cmd, command.context);
        });
      }
    });
    var registry = modeler.get("elementRegistry");
    form.addEventListener("submit", function (submitted) {
      submitted.preventDefault();
    });
    form.addEventListener("change", apply);
    form.addEventListener("input", function (typed) {
      dirty = typed.target;
    });
    form.addEventListener("click", function (clicked) {
      var button = clicked.target.closest("button[data-action]");
      if (button && current && actions[button.getAttribute("data-action")]) {
        actions[button.getAttribute("data-action")](current, rowIndex(button));
      }
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
    modeler.on("commandStack.changed", function (changed) {
      show(current ? registry.get(current.id) : null, changed.trigger !== "execute");
    });
    var roles = getJSON(text("roles-url"), { lanes: [], calendar: [] }).then(function (loaded) {
      lanes = (loaded.lanes || []).map(function (lane) {
        return lane.name;
      });
      calendarHint(loaded.calendar || []);
    });
    var loads = groups.filter(function (group) {
      return group.load;
    }).map(function (group) {
      return group.load();
    });
    Promise.all([roles].concat(loads)).then(function () {
      show(current);
      panel.hidden = false;
      panel.setAttribute("data-ready", "true");
    });
  });

  window.kedjaProperties = {
    register: register,
    IDENTIFIER: IDENTIFIER,
    // the element the panel shows (null when none or several are selected)
    selected: function () {
      return current;
    },
    // reading
    text: text,
    field: field,
    part: part,
    find: find,
    is: is,
    extension: extension,
    definitions: definitions,
    rootElements: rootElements,
    assigned: assigned,
    getJSON: getJSON,
    // filling
    option: option,
    fillChoice: fillChoice,
    renderRows: renderRows,
    focusRow: focusRow,
    // writing
    create: create,
    update: update,
    claim: claim,
    unclaim: unclaim,
    run: run,
    only: only,
    refuse: refuse,
    accept: accept,
    idProblem: idProblem,
    addExtension: addExtension
  };
})();
