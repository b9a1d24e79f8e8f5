/* The properties panel's service-task group: which of the engine's services a service task
 * calls, with what, and where the answer goes (templates/modeller/properties.html, fieldset
 * data-group=serviceTask).
 *
 * A group of the panel (properties.js, whose window.kedjaProperties it registers with and
 * whose helpers it uses): the spiffworkflow:serviceTaskOperator, chosen from the engine's
 * registered services (/modeller/tjanster.json, loaded before the panel opens), its
 * resultVariable and its spiffworkflow:parameter rows (id, type, value), with the parameters
 * the chosen service declared (engine.services.takes) said and offered as names. Its own file
 * because it alone asks the server for a list of its own and keeps rows of its own.
 * Loaded after properties.js.
 */
(function () {
  "use strict";

  var core = window.kedjaProperties;
  if (!core) {
    return; // the page has no properties panel (or no fetch): nothing to add to
  }
  var IDENTIFIER = core.IDENTIFIER;
  var text = core.text;
  var field = core.field;
  var part = core.part;
  var find = core.find;
  var is = core.is;
  var extension = core.extension;
  var getJSON = core.getJSON;
  var fillChoice = core.fillChoice;
  var renderRows = core.renderRows;
  var focusRow = core.focusRow;
  var create = core.create;
  var update = core.update;
  var run = core.run;
  var only = core.only;
  var refuse = core.refuse;
  var addExtension = core.addExtension;
  var ROWS = {
    name: "parameter",
    template: "egenskap-parameter-mall",
    prefix: "egenskap-parameter-"
  };
  var services = []; // the engine's registered operator names
  var declared = {}; // operator -> { required: [...], optional: [...] }, for those that say

  function operatorOf(bo) {
    return extension(bo, "spiffworkflow:ServiceTaskOperator");
  }

  function parameters(operator) {
    return operator && operator.parameterList ? operator.parameterList.get("values") : [];
  }

  // -- filling the form -------------------------------------------------------------------------

  function showService(bo) {
    var operator = operatorOf(bo);
    var name = operator ? operator.get("id") || "" : "";
    // "none" is offered only while nothing is chosen: SpiffWorkflow refuses a service task
    // without an operator, and choosing none would drop the parameters with it.
    fillChoice(field("operator"), services, name, name ? "" : text("no-service"),
      text("not-service"));
    part("operator").hidden = !operator;
    field("resultVariable").value = operator ? operator.get("resultVariable") || "" : "";
    showDeclared(name);
    var params = parameters(operator);
    renderRows(ROWS, params.length, function (input, index) {
      input("parameterId").value = params[index].get("id") || "";
      input("parameterType").value = params[index].get("type") || "";
      input("parameterValue").value = params[index].get("value") || "";
    });
  }

  // What the chosen service takes, in a sentence and as the names the name fields offer.
  function showDeclared(name) {
    var takes = declared[name];
    var line = part("serviceParameters");
    var names = document.getElementById("egenskap-parameternamn");
    names.textContent = "";
    line.hidden = !takes;
    if (!takes) {
      return;
    }
    var sentences = [];
    if (takes.required.length) {
      sentences.push(text("service-needs") + " " + takes.required.join(", ") + ".");
    }
    if (takes.optional.length) {
      sentences.push(text("service-may-take") + " " + takes.optional.join(", ") + ".");
    }
    line.textContent = sentences.length ? sentences.join(" ") : text("service-takes-none");
    takes.required.concat(takes.optional).forEach(function (parameter) {
      var option = document.createElement("option");
      option.value = parameter;
      names.appendChild(option);
    });
  }

  // -- writing ----------------------------------------------------------------------------------

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

  function setResultVariable(element, value) {
    var operator = operatorOf(element.businessObject);
    if (operator && (operator.get("resultVariable") || "") !== value) {
      run([update(element, operator, { resultVariable: value || undefined })]);
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
    focusRow(ROWS, params.length, true);
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
    focusRow(ROWS, index, false);
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

  // -- the group --------------------------------------------------------------------------------

  core.register("serviceTask", {
    applies: function (bo) {
      return is(bo, "bpmn:ServiceTask");
    },
    fill: showService,
    load: function () {
      return getJSON(text("services-url"), { operators: [] }).then(function (loaded) {
        services = loaded.operators || [];
        declared = loaded.parameters || {};
      });
    },
    writers: {
      operator: function (element, value) {
        setOperator(element, value);
      },
      resultVariable: setResultVariable,
      parameterId: function (element, value, input, index) {
        setParameter(element, index, "id", value, input);
      },
      parameterType: function (element, value, input, index) {
        setParameter(element, index, "type", value, input);
      },
      parameterValue: function (element, value, input, index) {
        setParameter(element, index, "value", value, input);
      }
    },
    actions: {
      addParameter: addParameter,
      removeParameter: removeParameter
    }
  });
})();
