/* The properties panel's multi-instance group: whether an activity runs once or once per item
 * of a collection, and over what (templates/modeller/properties.html, fieldset
 * data-group=loop).
 *
 * A group of the panel (properties.js, whose window.kedjaProperties it registers with and
 * whose helpers it uses). For any activity: none, parallel or sequential multi-instance, and
 * of a multi-instance its loopDataInputRef / inputDataItem, loopDataOutputRef /
 * outputDataItem, loopCardinality and completionCondition. SpiffWorkflow uses the data
 * elements' ids as variable names, so a collection that names no data element of the diagram
 * becomes a bpmn:property of the activity (as in Kedja's diagrams), and taking the loop away
 * takes those properties with it. Its own file because keeping those ids and properties right
 * is most of the panel's bookkeeping. Loaded after properties.js.
 */
(function () {
  "use strict";

  var core = window.kedjaProperties;
  if (!core) {
    return; // the page has no properties panel (or no fetch): nothing to add to
  }
  var IDENTIFIER = core.IDENTIFIER;
  var field = core.field;
  var part = core.part;
  var is = core.is;
  var assigned = core.assigned;
  var create = core.create;
  var update = core.update;
  var claim = core.claim;
  var unclaim = core.unclaim;
  var run = core.run;
  var only = core.only;
  var refuse = core.refuse;
  var idProblem = core.idProblem;
  var MULTI_INSTANCE = "bpmn:MultiInstanceLoopCharacteristics";

  function multiInstance(bo) {
    return is(bo.loopCharacteristics, MULTI_INSTANCE) ? bo.loopCharacteristics : null;
  }

  // -- filling the form -------------------------------------------------------------------------

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

  // -- writing ----------------------------------------------------------------------------------

  // A FormalExpression property (a loop's cardinality or completion condition): the body
  // changed in place, added, or removed when emptied.
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
      target = assigned(value) || null;
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

  // -- the group --------------------------------------------------------------------------------

  core.register("loop", {
    applies: function (bo) {
      return is(bo, "bpmn:Activity");
    },
    fill: showLoop,
    writers: {
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
        setExpression(element, multiInstance(element.businessObject), "completionCondition",
          value);
      }
    }
  });
})();
