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
 * What is read and written (docs/processes.md): name and documentation of any element; a
 * lane's name, chosen from the roles (/modeller/roller.json); a user task's
 * formJsonSchemaFilename / formUiSchemaFilename (chosen from the definition's form files) and
 * dueDate; a timer's timeDate / timeDuration / timeCycle expression; a call activity's
 * calledElement; a sequence flow's condition. For message events and receive/send tasks:
 * the message (a bpmn:message of the definitions, chosen by name or created), the
 * spiffworkflow:messageVariable (catching) or messagePayload (throwing), and the message's
 * correlation as Kedja's diagrams write it — bpmn:correlationProperty elements with a
 * correlationPropertyRetrievalExpression for the message, grouped in the collaboration's
 * bpmn:correlationKey (engine/messages.py matches on them). For any activity: none,
 * parallel or sequential multi-instance, and of a multi-instance its loopDataInputRef /
 * inputDataItem, loopDataOutputRef / outputDataItem, loopCardinality and
 * completionCondition; SpiffWorkflow uses their ids as variable names, so a collection
 * that names no data element of the diagram becomes a bpmn:property of the activity (as in
 * Kedja's diagrams). For a service task: the spiffworkflow:serviceTaskOperator, chosen from
 * the engine's registered services (/modeller/tjanster.json), its resultVariable and its
 * spiffworkflow:parameter rows (id, type, value).
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
  var GROUPS = [
    "general", "lane", "userTask", "timer", "callActivity", "condition", "message", "loop",
    "serviceTask"
  ];
  var MULTI = "kedja.properties.multi";
  var MULTI_INSTANCE = "bpmn:MultiInstanceLoopCharacteristics";
  // what SpiffWorkflow can use as a variable name (a data item's id is its variable)
  var IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_]*$/u;
  var ROWS = {
    correlation: { template: "egenskap-korrelation-mall", prefix: "egenskap-korrelation-" },
    parameter: { template: "egenskap-parameter-mall", prefix: "egenskap-parameter-" }
  };
  var modeler = null;
  var modeling = null;
  var moddle = null;
  var commandStack = null;
  var forms = [];
  var lanes = [];
  var services = [];
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

  // Where the message reference and SpiffWorkflow's message extensions live: on a receive or
  // send task itself, on an event's messageEventDefinition.
  function messageHolder(bo) {
    if (is(bo, "bpmn:ReceiveTask") || is(bo, "bpmn:SendTask")) {
      return bo;
    }
    return find(bo.eventDefinitions, function (d) {
      return is(d, "bpmn:MessageEventDefinition");
    });
  }

  function catches(bo) {
    return is(bo, "bpmn:CatchEvent") || is(bo, "bpmn:ReceiveTask");
  }

  // The message's correlation, as Kedja's diagrams write it: each bpmn:correlationProperty
  // with a retrieval expression for this message.
  function correlations(message) {
    var rows = [];
    if (!message) {
      return rows;
    }
    rootElements("bpmn:CorrelationProperty").forEach(function (property) {
      property.get("correlationPropertyRetrievalExpression").forEach(function (expression) {
        if (expression.messageRef === message) {
          rows.push({ property: property, expression: expression });
        }
      });
    });
    return rows;
  }

  function correlationKeys() {
    var collaboration = rootElements("bpmn:Collaboration")[0];
    return collaboration ? collaboration.get("correlationKeys") : [];
  }

  function multiInstance(bo) {
    return is(bo.loopCharacteristics, MULTI_INSTANCE) ? bo.loopCharacteristics : null;
  }

  function operatorOf(bo) {
    return extension(bo, "spiffworkflow:ServiceTaskOperator");
  }

  function parameters(operator) {
    return operator && operator.parameterList ? operator.parameterList.get("values") : [];
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

  function showGroup(name, shown) {
    form.querySelector("fieldset[data-group=" + name + "]").hidden = !shown;
  }

  // A list of rows (correlation properties, service parameters) drawn from the template, one
  // per model element. Existing rows are reused, so the field being worked in keeps focus.
  function renderRows(name, count, fill) {
    var list = form.querySelector("[data-rows=" + name + "]");
    var template = document.getElementById(ROWS[name].template);
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
        input.id = ROWS[name].prefix + number + "-" + input.getAttribute("data-id");
      });
      row.querySelectorAll("label[data-for]").forEach(function (label) {
        label.htmlFor = ROWS[name].prefix + number + "-" + label.getAttribute("data-for");
      });
      list.appendChild(row);
    }
    Array.prototype.forEach.call(list.children, function (row, index) {
      fill(function (property) {
        return row.querySelector("[data-property=" + property + "]");
      }, index);
    });
  }

  // A refused change is said beside its field (created here, tied to the field with
  // aria-describedby, announced as an alert).
  function clearErrors() {
    form.querySelectorAll("[aria-invalid]").forEach(accept);
  }

  function showMessage(bo, holder) {
    var message = holder.messageRef;
    var select = field("messageRef");
    select.textContent = "";
    option(select, "", text("no-message"));
    rootElements("bpmn:Message").forEach(function (m) {
      option(select, m.id, m.name || m.id);
    });
    select.value = message ? message.id : "";
    var catching = catches(bo);
    part("messageVariable").hidden = !catching;
    part("messagePayload").hidden = catching;
    var variable = extension(holder, "spiffworkflow:MessageVariable");
    field("messageVariable").value = variable ? variable.value || "" : "";
    var payload = extension(holder, "spiffworkflow:MessagePayload");
    field("messagePayload").value = payload ? payload.value || "" : "";
    part("correlation").hidden = !message;
    var rows = correlations(message);
    renderRows("correlation", rows.length, function (input, index) {
      var path = rows[index].expression.messagePath;
      input("correlationName").value = rows[index].property.id;
      input("correlationExpression").value = path ? path.body || "" : "";
    });
  }

  function showLoop(bo) {
    var loop = bo.loopCharacteristics;
    var multi = multiInstance(bo);
    var kind = "";
    if (multi) {
      kind = multi.isSequential ? "sequential" : "parallel";
    } else if (loop) {
      kind = "standard";
    }
    var select = field("loopKind");
    var standard = select.querySelector("option[value=standard]");
    standard.hidden = kind !== "standard";
    standard.disabled = kind !== "standard";
    select.value = kind;
    part("multiInstance").hidden = !multi;
    if (!multi) {
      return;
    }
    ["loopDataInputRef", "inputDataItem", "loopDataOutputRef", "outputDataItem"].forEach(
      function (name) {
        var data = multi.get(name);
        field(name).value = data ? data.id || "" : "";
      }
    );
    ["loopCardinality", "completionCondition"].forEach(function (name) {
      var expression = multi.get(name);
      field(name).value = expression ? expression.body || "" : "";
    });
  }

  function showService(bo) {
    var operator = operatorOf(bo);
    var name = operator ? operator.get("id") || "" : "";
    // "none" is offered only while nothing is chosen: SpiffWorkflow refuses a service task
    // without an operator, and choosing none would drop the parameters with it.
    fillChoice(field("operator"), services, name, name ? "" : text("no-service"),
      text("not-service"));
    part("operator").hidden = !operator;
    field("resultVariable").value = operator ? operator.get("resultVariable") || "" : "";
    var params = parameters(operator);
    renderRows("parameter", params.length, function (input, index) {
      input("parameterId").value = params[index].get("id") || "";
      input("parameterType").value = params[index].get("type") || "";
      input("parameterValue").value = params[index].get("value") || "";
    });
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
      GROUPS.forEach(function (name) {
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
    part("name").hidden = lane;
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

    var holder = messageHolder(bo);
    showGroup("message", Boolean(holder));
    if (holder) {
      showMessage(bo, holder);
    }

    var activity = is(bo, "bpmn:Activity");
    showGroup("loop", activity);
    if (activity) {
      showLoop(bo);
    }

    var service = is(bo, "bpmn:ServiceTask");
    showGroup("serviceTask", service);
    if (service) {
      showService(bo);
    }

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

  // A name that becomes an id in the document (and a variable for SpiffWorkflow): the reason
  // it cannot be used, or "" when it can.
  function idProblem(value) {
    if (!value) {
      return "error-required";
    }
    if (!IDENTIFIER.test(value)) {
      return "error-name";
    }
    return moddle.ids.assigned(value) ? "error-taken" : "";
  }

  function freeId(base) {
    var id = base;
    for (var n = 2; moddle.ids.assigned(id); n += 1) {
      id = base + "_" + n;
    }
    return id;
  }

  function slug(name) {
    return name.normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
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

  function removeExtension(element, holder, value) {
    var ext = holder.extensionElements;
    return [update(element, ext, {
      values: ext.get("values").filter(function (v) {
        return v !== value;
      })
    })];
  }

  // A spiffworkflow element whose body is the value (messageVariable, messagePayload).
  function setExtensionBody(element, holder, type, value) {
    var existing = extension(holder, type);
    if (existing && value) {
      run([update(element, existing, { value: value })]);
    } else if (existing) {
      run(removeExtension(element, holder, existing));
    } else if (value) {
      run(addExtension(element, holder, create(type, { value: value })));
    }
  }

  // New root elements (messages, correlation properties) go after those already there, before
  // the processes, as in Kedja's diagrams.
  function addRoot(element, root) {
    var defs = definitions();
    var roots = defs.get("rootElements").slice();
    var at = -1;
    roots.forEach(function (r, index) {
      if (is(r, "bpmn:Message") || is(r, "bpmn:CorrelationProperty")) {
        at = index + 1;
      }
    });
    if (at < 0) {
      at = roots.indexOf(find(roots, function (r) {
        return is(r, "bpmn:Process");
      }));
    }
    roots.splice(at < 0 ? roots.length : at, 0, root);
    return update(element, defs, { rootElements: roots });
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

  // A FormalExpression property (a flow's condition, a loop's cardinality or completion
  // condition): the body changed in place, added, or removed when emptied.
  function setExpression(element, owner, property, value) {
    var expression = owner.get(property);
    if (value && expression) {
      run([update(element, expression, { body: value })]);
    } else if (value) {
      run([update(element, owner, only(property,
        create("bpmn:FormalExpression", { body: value }, owner)))]);
    } else if (expression) {
      run([update(element, owner, only(property, undefined))]);
    }
  }

  // -- messages -------------------------------------------------------------------------------

  function chosenMessage(element) {
    var holder = messageHolder(element.businessObject);
    return holder ? holder.messageRef : null;
  }

  function setMessage(element, id) {
    var holder = messageHolder(element.businessObject);
    var message = find(rootElements("bpmn:Message"), function (m) {
      return m.id === id;
    });
    if (holder.messageRef !== (message || undefined)) {
      run([update(element, holder, { messageRef: message || undefined })]);
    }
  }

  function createMessage(element) {
    var input = document.getElementById("egenskap-nytt-meddelande");
    var name = input.value.trim();
    accept(input);
    if (!name) {
      refuse(input, "error-required");
      return;
    }
    var holder = messageHolder(element.businessObject);
    var message = find(rootElements("bpmn:Message"), function (m) {
      return m.name === name;
    });
    var commands = [];
    if (!message) {
      message = create("bpmn:Message", {
        id: freeId("message_" + (slug(name) || "1")),
        name: name
      }, definitions());
      commands.push(claim(message.id, message), addRoot(element, message));
    }
    if (holder.messageRef !== message) {
      commands.push(update(element, holder, { messageRef: message }));
    }
    input.value = "";
    run(commands);
    field("messageRef").focus();
  }

  // The correlation key a new property of `message` joins: the one holding the message's
  // other properties (as year in the prize's nomination_year). A message's first property
  // joins no key: SpiffWorkflow then puts it in its default key, and Kedja matches on the
  // properties alone (engine/messages.py).
  function keyFor(message) {
    var own = correlations(message).map(function (row) {
      return row.property;
    });
    return find(correlationKeys(), function (key) {
      return Boolean(find(key.get("correlationPropertyRef"), function (p) {
        return own.indexOf(p) >= 0;
      }));
    });
  }

  function addCorrelation(element) {
    var message = chosenMessage(element);
    if (!message) {
      return;
    }
    var id = freeId("korrelation");
    var property = create("bpmn:CorrelationProperty", { id: id, name: id }, definitions());
    var expression = create("bpmn:CorrelationPropertyRetrievalExpression",
      { messageRef: message }, property);
    // the XSD requires the messagePath; an empty one is no correlation for SpiffWorkflow
    expression.messagePath = create("bpmn:FormalExpression", { body: "" }, expression);
    property.get("correlationPropertyRetrievalExpression").push(expression);
    var commands = [claim(id, property)];
    var key = keyFor(message);
    commands.push(addRoot(element, property));
    if (key) {
      commands.push(update(element, key, {
        correlationPropertyRef: key.get("correlationPropertyRef").concat([property])
      }));
    }
    run(commands);
    focusRow("correlation", correlations(message).length - 1, true);
  }

  function removeCorrelation(element, index) {
    var row = correlations(chosenMessage(element))[index];
    if (!row) {
      return;
    }
    var property = row.property;
    var rest = property.get("correlationPropertyRetrievalExpression").filter(function (e) {
      return e !== row.expression;
    });
    if (rest.length) {
      // other messages still use the property: only this message's expression goes
      run([update(element, property, { correlationPropertyRetrievalExpression: rest })]);
    } else {
      var commands = [];
      correlationKeys().forEach(function (key) {
        var refs = key.get("correlationPropertyRef");
        if (refs.indexOf(property) >= 0) {
          commands.push(update(element, key, {
            correlationPropertyRef: refs.filter(function (p) {
              return p !== property;
            })
          }));
        }
      });
      commands.push(update(element, definitions(), {
        rootElements: definitions().get("rootElements").filter(function (r) {
          return r !== property;
        })
      }));
      commands.push(unclaim(property.id, property));
      run(commands);
    }
    focusRow("correlation", index, false);
  }

  function setCorrelationName(element, index, value, input) {
    var row = correlations(chosenMessage(element))[index];
    if (!row || row.property.id === value) {
      return;
    }
    var problem = idProblem(value);
    if (problem) {
      refuse(input, problem);
      return;
    }
    // SpiffWorkflow names a correlation property by its id: id and name change together
    run([
      unclaim(row.property.id, row.property),
      claim(value, row.property),
      update(element, row.property, { id: value, name: value })
    ]);
  }

  function setCorrelationExpression(element, index, value) {
    var row = correlations(chosenMessage(element))[index];
    if (!row) {
      return;
    }
    var path = row.expression.messagePath;
    if (path) {
      run([update(element, path, { body: value })]);
    } else {
      run([update(element, row.expression, {
        messagePath: create("bpmn:FormalExpression", { body: value }, row.expression)
      })]);
    }
  }

  // -- multi-instance -------------------------------------------------------------------------

  // Taking the loop away also takes the activity's own bpmn:property elements that only its
  // collections used, and frees the ids of its data items.
  function removeLoop(element) {
    var bo = element.businessObject;
    var loop = bo.loopCharacteristics;
    var commands = [];
    if (is(loop, MULTI_INSTANCE)) {
      ["inputDataItem", "outputDataItem"].forEach(function (name) {
        var item = loop.get(name);
        if (item && item.id) {
          commands.push(unclaim(item.id, item));
        }
      });
      var own = bo.get("properties");
      var used = [loop.get("loopDataInputRef"), loop.get("loopDataOutputRef")].filter(function (r) {
        return r && own.indexOf(r) >= 0;
      });
      if (used.length) {
        used.forEach(function (r) {
          commands.push(unclaim(r.id, r));
        });
        commands.push(update(element, bo, {
          properties: own.filter(function (p) {
            return used.indexOf(p) < 0;
          })
        }));
      }
    }
    commands.push({
      cmd: "element.updateProperties",
      context: { element: element, properties: { loopCharacteristics: undefined } }
    });
    return commands;
  }

  function setLoopKind(element, kind) {
    var bo = element.businessObject;
    var multi = multiInstance(bo);
    if (!kind) {
      if (bo.loopCharacteristics) {
        run(removeLoop(element));
      }
      return;
    }
    if (kind === "standard") {
      return;
    }
    var sequential = kind === "sequential";
    if (multi) {
      if (Boolean(multi.isSequential) !== sequential) {
        run([update(element, multi, { isSequential: sequential })]);
      }
      return;
    }
    var commands = bo.loopCharacteristics ? removeLoop(element) : [];
    commands.push({
      cmd: "element.updateProperties",
      context: {
        element: element,
        properties: {
          loopCharacteristics: create(MULTI_INSTANCE, sequential ? { isSequential: true } : {}, bo)
        }
      }
    });
    run(commands);
  }

  // loopDataInputRef / loopDataOutputRef: a reference to a data element whose id is the
  // variable. A name no data element of the diagram has becomes a bpmn:property of the
  // activity; the activity's own property the old name used goes.
  function setLoopCollection(element, name, value, input) {
    var bo = element.businessObject;
    var loop = multiInstance(bo);
    var old = loop.get(name);
    if ((old ? old.id : "") === value) {
      return;
    }
    var own = bo.get("properties").slice();
    var ownChanged = false;
    var commands = [];
    var target = null;
    if (value) {
      if (!IDENTIFIER.test(value)) {
        refuse(input, "error-name");
        return;
      }
      target = moddle.ids.assigned(value) || null;
      if (target && !is(target, "bpmn:ItemAwareElement")) {
        refuse(input, "error-taken");
        return;
      }
      if (!target) {
        target = create("bpmn:Property", { id: value, name: value }, bo);
        own.push(target);
        ownChanged = true;
        commands.push(claim(value, target));
      }
    }
    var other = loop.get(name === "loopDataInputRef" ? "loopDataOutputRef" : "loopDataInputRef");
    if (old && old !== other && is(old, "bpmn:Property") && own.indexOf(old) >= 0) {
      own.splice(own.indexOf(old), 1);
      ownChanged = true;
      commands.push(unclaim(old.id, old));
    }
    if (ownChanged) {
      commands.push(update(element, bo, { properties: own }));
    }
    commands.push(update(element, loop, only(name, target || undefined)));
    run(commands);
  }

  // inputDataItem / outputDataItem: the loop's own data element; its id is the variable.
  function setLoopItem(element, name, value, input) {
    var loop = multiInstance(element.businessObject);
    var item = loop.get(name);
    if ((item ? item.id : "") === value) {
      return;
    }
    if (!value) {
      run([unclaim(item.id, item), update(element, loop, only(name, undefined))]);
      return;
    }
    var problem = idProblem(value);
    if (problem) {
      refuse(input, problem);
      return;
    }
    if (item) {
      run([unclaim(item.id, item), claim(value, item),
        update(element, item, { id: value, name: value })]);
      return;
    }
    var type = name === "inputDataItem" ? "bpmn:DataInput" : "bpmn:DataOutput";
    item = create(type, { id: value, name: value }, loop);
    run([claim(value, item), update(element, loop, only(name, item))]);
  }

  // -- service tasks ---------------------------------------------------------------------------

  function setOperator(element, name) {
    var bo = element.businessObject;
    var operator = operatorOf(bo);
    if (!name) {
      return;
    }
    if (!operator) {
      run(addExtension(element, bo, create("spiffworkflow:ServiceTaskOperator", { id: name })));
    } else if (operator.get("id") !== name) {
      run([update(element, operator, { id: name })]);
    }
  }

  function addParameter(element) {
    var operator = operatorOf(element.businessObject);
    if (!operator) {
      return;
    }
    var params = parameters(operator);
    var taken = params.map(function (p) {
      return p.get("id");
    });
    var id = "parameter";
    for (var n = 2; taken.indexOf(id) >= 0; n += 1) {
      id = "parameter_" + n;
    }
    var list = operator.parameterList;
    var param = create("spiffworkflow:Parameter", { id: id, type: "any", value: "" }, list);
    if (list) {
      run([update(element, list, { values: params.concat([param]) })]);
    } else {
      list = create("spiffworkflow:Parameters", {}, operator);
      param.$parent = list;
      list.get("values").push(param);
      run([update(element, operator, { parameterList: list })]);
    }
    focusRow("parameter", params.length, true);
  }

  function removeParameter(element, index) {
    var operator = operatorOf(element.businessObject);
    var params = parameters(operator);
    if (!params[index]) {
      return;
    }
    run([update(element, operator.parameterList, {
      values: params.filter(function (p, i) {
        return i !== index;
      })
    })]);
    focusRow("parameter", index, false);
  }

  function setParameter(element, index, name, value, input) {
    var params = parameters(operatorOf(element.businessObject));
    var param = params[index];
    if (!param) {
      return;
    }
    if (name === "id") {
      var problem = !value ? "error-required" : IDENTIFIER.test(value) ? "" : "error-name";
      if (!problem && find(params, function (p) {
        return p !== param && p.get("id") === value;
      })) {
        problem = "error-parameter";
      }
      if (problem) {
        refuse(input, problem);
        return;
      }
    }
    if (name === "type" && !value) {
      value = "any"; // SpiffWorkflow requires a type; Kedja's diagrams say "any"
      input.value = value;
    }
    if (param.get(name) !== value) {
      run([update(element, param, only(name, value))]);
    }
  }

  // After a row is added or removed: focus the row now at `index` (its first field, its text
  // selected for a new row to be named), or the list's add button when no row is left.
  function focusRow(name, index, select) {
    var list = form.querySelector("[data-rows=" + name + "]");
    var row = list.children[Math.min(index, list.children.length - 1)];
    var target = row ? row.querySelector("input, textarea")
      : list.parentNode.querySelector("button[data-action^=add]");
    target.focus();
    if (select && target.select) {
      target.select();
    }
  }

  // -- dispatch ---------------------------------------------------------------------------------

  var WRITERS = {
    messageRef: function (element, value) {
      setMessage(element, value);
    },
    messageVariable: function (element, value) {
      setExtensionBody(element, messageHolder(element.businessObject),
        "spiffworkflow:MessageVariable", value);
    },
    messagePayload: function (element, value) {
      setExtensionBody(element, messageHolder(element.businessObject),
        "spiffworkflow:MessagePayload", value);
    },
    correlationName: function (element, value, input, index) {
      setCorrelationName(element, index, value, input);
    },
    correlationExpression: function (element, value, input, index) {
      setCorrelationExpression(element, index, value);
    },
    loopKind: function (element, value) {
      setLoopKind(element, value);
    },
    loopDataInputRef: function (element, value, input) {
      setLoopCollection(element, "loopDataInputRef", value, input);
    },
    loopDataOutputRef: function (element, value, input) {
      setLoopCollection(element, "loopDataOutputRef", value, input);
    },
    inputDataItem: function (element, value, input) {
      setLoopItem(element, "inputDataItem", value, input);
    },
    outputDataItem: function (element, value, input) {
      setLoopItem(element, "outputDataItem", value, input);
    },
    loopCardinality: function (element, value) {
      setExpression(element, multiInstance(element.businessObject), "loopCardinality", value);
    },
    completionCondition: function (element, value) {
      setExpression(element, multiInstance(element.businessObject), "completionCondition", value);
    },
    operator: function (element, value) {
      setOperator(element, value);
    },
    resultVariable: function (element, value) {
      var operator = operatorOf(element.businessObject);
      if (operator && (operator.get("resultVariable") || "") !== value) {
        run([update(element, operator, { resultVariable: value || undefined })]);
      }
    },
    parameterId: function (element, value, input, index) {
      setParameter(element, index, "id", value, input);
    },
    parameterType: function (element, value, input, index) {
      setParameter(element, index, "type", value, input);
    },
    parameterValue: function (element, value, input, index) {
      setParameter(element, index, "value", value, input);
    }
  };

  var ACTIONS = {
    createMessage: createMessage,
    addCorrelation: addCorrelation,
    removeCorrelation: removeCorrelation,
    addParameter: addParameter,
    removeParameter: removeParameter
  };

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
    var value = target.value.trim();
    if (WRITERS[property]) {
      WRITERS[property](element, value, target, rowIndex(target));
    } else if (property === "name" || property === "lane") {
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
      if (button && current && ACTIONS[button.getAttribute("data-action")]) {
        ACTIONS[button.getAttribute("data-action")](current, rowIndex(button));
      }
    });
    document.getElementById("egenskap-nytt-meddelande").addEventListener("keydown", function (key) {
      if (key.key === "Enter" && current) {
        key.preventDefault();
        createMessage(current);
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
    Promise.all([
      getJSON(text("roles-url"), { lanes: [], calendar: [] }),
      getJSON(text("services-url"), { operators: [] })
    ]).then(function (loaded) {
      lanes = (loaded[0].lanes || []).map(function (lane) {
        return lane.name;
      });
      calendarHint(loaded[0].calendar || []);
      services = loaded[1].operators || [];
      show(current);
      panel.hidden = false;
      panel.setAttribute("data-ready", "true");
    });
  });
})();
