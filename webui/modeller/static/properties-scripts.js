/* The properties panel's scripts group: a script task's script, and the pre- and post-script
 * SpiffWorkflow runs before and after any activity (templates/modeller/properties.html,
 * fieldset data-group=scripts).
 *
 * A group of the panel (properties.js, whose window.kedjaProperties it registers with and
 * whose helpers it uses). A script task's script is the bpmn:script body; the others are the
 * spiffworkflow:preScript / postScript extension elements (typed moddle elements,
 * static/spiffworkflow.json), added when first written and removed when emptied. The text is
 * kept exactly as typed (indentation is Python's syntax): only a script that is nothing but
 * white space counts as empty. Whether a script may run is the deploy's sandbox check, which
 * "Validera" shows on the element. Loaded after properties.js.
 */
(function () {
  "use strict";

  var core = window.kedjaProperties;
  if (!core) {
    return;
  }
  var field = core.field;
  var part = core.part;
  var is = core.is;
  var extension = core.extension;
  var create = core.create;
  var update = core.update;
  var run = core.run;
  var addExtension = core.addExtension;
  var TYPES = { preScript: "spiffworkflow:PreScript", postScript: "spiffworkflow:PostScript" };

  function show(bo) {
    var scripted = is(bo, "bpmn:ScriptTask");
    part("script").hidden = !scripted;
    field("script").value = scripted ? bo.get("script") || "" : "";
    Object.keys(TYPES).forEach(function (name) {
      var script = extension(bo, TYPES[name]);
      field(name).value = script ? script.get("value") || "" : "";
    });
  }

  function setScript(element, value, input) {
    var text = input.value.trim() ? input.value : "";
    if ((element.businessObject.get("script") || "") !== text) {
      run([update(element, element.businessObject, { script: text || undefined })]);
    }
  }

  function scriptWriter(name) {
    return function (element, value, input) {
      var bo = element.businessObject;
      var text = input.value.trim() ? input.value : "";
      var script = extension(bo, TYPES[name]);
      if (script && text) {
        if (script.get("value") !== text) {
          run([update(element, script, { value: text })]);
        }
      } else if (script) {
        var ext = bo.extensionElements;
        run([update(element, ext, {
          values: ext.get("values").filter(function (v) {
            return v !== script;
          })
        })]);
      } else if (text) {
        run(addExtension(element, bo, create(TYPES[name], { value: text }, null)));
      }
    };
  }

  core.register("scripts", {
    applies: function (bo) {
      return is(bo, "bpmn:Activity");
    },
    fill: show,
    writers: {
      script: setScript,
      preScript: scriptWriter("preScript"),
      postScript: scriptWriter("postScript")
    }
  });
})();
