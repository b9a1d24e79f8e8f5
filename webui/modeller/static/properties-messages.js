/* The properties panel's message group: what a message event or a receive/send task sends or
 * waits for (templates/modeller/properties.html, fieldset data-group=message).
 *
 * A group of the panel (properties.js, whose window.kedjaProperties it registers with and
 * whose helpers it uses): the message (a bpmn:message of the definitions, chosen by name or
 * created), the spiffworkflow:messageVariable (catching) or messagePayload (throwing), and
 * the message's correlation as Kedja's diagrams write it — bpmn:correlationProperty elements
 * with a correlationPropertyRetrievalExpression for the message, grouped in the
 * collaboration's bpmn:correlationKey (engine/messages.py matches on them). Its own file
 * because messages touch the whole document (root elements, the collaboration's keys), not
 * only the selected element. Loaded after properties.js.
 */
(function () {
  "use strict";

  var core = window.kedjaProperties;
  if (!core) {
    return; // the page has no properties panel (or no fetch): nothing to add to
  }
  var text = core.text;
  var field = core.field;
  var part = core.part;
  var find = core.find;
  var is = core.is;
  var extension = core.extension;
  var definitions = core.definitions;
  var rootElements = core.rootElements;
  var assigned = core.assigned;
  var option = core.option;
  var renderRows = core.renderRows;
  var focusRow = core.focusRow;
  var create = core.create;
  var update = core.update;
  var claim = core.claim;
  var unclaim = core.unclaim;
  var run = core.run;
  var refuse = core.refuse;
  var accept = core.accept;
  var idProblem = core.idProblem;
  var addExtension = core.addExtension;
  var ROWS = {
    name: "correlation",
    template: "egenskap-korrelation-mall",
    prefix: "egenskap-korrelation-"
  };

  // -- reading the business object ------------------------------------------------------------

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

  function chosenMessage(element) {
    var holder = messageHolder(element.businessObject);
    return holder ? holder.messageRef : null;
  }

  // -- filling the form -------------------------------------------------------------------------

  function showMessage(bo) {
    var holder = messageHolder(bo);
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
    renderRows(ROWS, rows.length, function (input, index) {
      var path = rows[index].expression.messagePath;
      input("correlationName").value = rows[index].property.id;
      input("correlationExpression").value = path ? path.body || "" : "";
    });
  }

  // -- writing ----------------------------------------------------------------------------------

  function freeId(base) {
    var id = base;
    for (var n = 2; assigned(id); n += 1) {
      id = base + "_" + n;
    }
    return id;
  }

  function slug(name) {
    return name.normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
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
    focusRow(ROWS, correlations(message).length - 1, true);
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
    focusRow(ROWS, index, false);
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

  // -- the group --------------------------------------------------------------------------------

  core.register("message", {
    applies: function (bo) {
      return Boolean(messageHolder(bo));
    },
    fill: showMessage,
    writers: {
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
      }
    },
    actions: {
      createMessage: createMessage,
      addCorrelation: addCorrelation,
      removeCorrelation: removeCorrelation
    }
  });

  // Enter in the new message's name creates it, as its button does (and does not submit).
  document.getElementById("egenskap-nytt-meddelande").addEventListener("keydown", function (key) {
    var element = core.selected();
    if (key.key === "Enter" && element) {
      key.preventDefault();
      createMessage(element);
    }
  });
})();
