/* Draws a case's diagram with the bpmn-js viewer and marks what is done and what is active.
 *
 * The page works without this script: everything the picture shows is also on the page as
 * text. The script reads the diagram and the element states from the JSON address in the
 * holder's data-diagram-url, draws it, adds the CSS classes "kedja-completed" and
 * "kedja-active" through the viewer's canvas.addMarker, and shows the zoom buttons.
 */
(function () {
  "use strict";

  var holder = document.getElementById("diagram");
  if (!holder || typeof window.BpmnJS !== "function" || !window.fetch) {
    return;
  }

  function fail() {
    var fallback = document.createElement("p");
    fallback.className = "diagram-fallback";
    fallback.textContent = holder.getAttribute("data-failed");
    holder.textContent = "";
    holder.appendChild(fallback);
    holder.classList.add("diagram-failed");
  }

  function mark(viewer, ids, marker) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    ids.forEach(function (id) {
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
      }
    });
  }

  function describe(holderElement) {
    // The picture's text alternative is the page's text; the SVG gets a short name.
    var svg = holderElement.querySelector("svg");
    if (svg) {
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", holderElement.getAttribute("data-label"));
    }
  }

  function enableZoom(viewer) {
    var tools = holder.parentNode.querySelector(".diagram-tools");
    if (!tools) {
      return;
    }
    var canvas = viewer.get("canvas");
    tools.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-zoom]");
      if (!button) {
        return;
      }
      var how = button.getAttribute("data-zoom");
      if (how === "fit") {
        canvas.zoom("fit-viewport", "auto");
      } else {
        canvas.zoom(canvas.zoom() * (how === "in" ? 1.25 : 0.8));
      }
    });
    tools.hidden = false;
  }

  fetch(holder.getAttribute("data-diagram-url"), {
    credentials: "same-origin",
    headers: { Accept: "application/json" }
  })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    })
    .then(function (data) {
      holder.textContent = "";
      var viewer = new window.BpmnJS({ container: holder });
      return viewer.importXML(data.xml).then(function () {
        mark(viewer, data.completed, "kedja-completed");
        mark(viewer, data.active, "kedja-active");
        viewer.get("canvas").zoom("fit-viewport", "auto");
        describe(holder);
        enableZoom(viewer);
        holder.classList.add("diagram-ready");
      });
    })
    .catch(fail);
})();
