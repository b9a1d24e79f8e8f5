"""Every diagram in bpmn/ opens cleanly in bpmn-js (the viewer the instance page and the
modeller use): no import warnings, every element drawn.

With KEDJA_WRITE_DOC_IMAGES=1 the test also writes each process's picture for the
process-owner guide to docs/images/<folder>.png (how the pictures in docs/ were made).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from processes.catalogue import BPMN_DIR
from tests.test_bpmn_diagrams import FLOW_NODES

ROOT = Path(__file__).resolve().parents[2]
VIEWER = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-viewer.production.min.js"
DIAGRAMS = sorted(BPMN_DIR.rglob("*.bpmn"))
WRITE_IMAGES = os.environ.get("KEDJA_WRITE_DOC_IMAGES") == "1"

IMPORT = """async (xml) => {
  const viewer = new BpmnJS({ container: '#canvas' });
  const result = await viewer.importXML(xml);
  const canvas = viewer.get('canvas');
  const inner = canvas.viewbox().inner;
  const box = document.getElementById('canvas');
  box.style.width = Math.ceil(inner.width + 60) + 'px';
  box.style.height = Math.ceil(inner.height + 60) + 'px';
  canvas.resized();
  canvas.zoom('fit-viewport', 'auto');
  const registry = viewer.get('elementRegistry');
  return {
    warnings: result.warnings.map(w => w.message),
    drawn: registry.getAll().map(e => e.id),
  };
}"""


@pytest.fixture
def blank(browser):
    context = browser.new_context(viewport={"width": 1800, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    page.set_content('<div id="canvas" style="width:1800px;height:1000px"></div>')
    page.add_script_tag(path=str(VIEWER))
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.relative_to(BPMN_DIR).as_posix())
def test_diagram_imports_without_warnings(blank, path):
    from lxml import etree

    xml = path.read_text(encoding="utf-8")
    result = blank.evaluate(IMPORT, xml)
    assert result["warnings"] == []
    tree = etree.fromstring(xml.encode())
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    kinds = [*FLOW_NODES, "lane", "sequenceFlow"]
    ids = {el.get("id") for kind in kinds for el in tree.iterfind(f".//bpmn:{kind}", ns)}
    assert ids - set(result["drawn"]) == set()
    if WRITE_IMAGES and path.stem == path.parent.name:
        (ROOT / "docs" / "images").mkdir(exist_ok=True)
        blank.locator("#canvas").screenshot(path=str(ROOT / "docs" / "images" / f"{path.stem}.png"))
