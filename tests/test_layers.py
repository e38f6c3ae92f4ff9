"""The packages' structure: layers that point one way, no import cycle, no private name shared.

The graph is read from the source by ``docs/_ext/import_graph.py``, the module that also draws
the architecture page's diagram, so the picture and these rules are the same data.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import import_graph  # noqa: E402


def _where(imp) -> str:
    kind = "function-level" if imp.in_function else "module-level"
    names = ", ".join(n for n in imp.names if n)
    return f"{imp.source} line {imp.line} ({kind}): {imp.target}" + (f" [{names}]" if names else "")


def test_the_walker_sees_both_kinds_of_import(tmp_path):
    pkg = tmp_path / "hambox_torch"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "engine" / "__init__.py").write_text("")
    (pkg / "boxes.py").write_text("def f():\n    from hambox_torch.engine import loop\n")
    (pkg / "engine" / "loop.py").write_text("from ..boxes import f\nfrom . import _x\n")
    (tmp_path / "hambox_core").mkdir()
    g = import_graph.graph(tmp_path)
    assert g["hambox_torch.boxes"] == {"hambox_torch.engine.loop"}
    assert g["hambox_torch.engine.loop"] == {"hambox_torch.boxes", "hambox_torch.engine"}
    assert import_graph.cycles(g) == [["hambox_torch.boxes", "hambox_torch.engine.loop"]]
    (up,) = import_graph.upward_imports(tmp_path)
    assert (up.source, up.in_function) == ("hambox_torch.boxes", True)
    assert [i.names for i in import_graph.private_imports(tmp_path)] == [("_x",)]


def test_no_import_cycle_in_either_package():
    found = import_graph.cycles(import_graph.graph())
    assert not found, "import cycles (module-level and function-level imports):\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_every_torch_module_has_a_layer():
    missing = [m for m in import_graph.modules() if m.startswith("hambox_torch")]
    missing = [m for m in missing if import_graph.layer_of(m) is None]
    assert not missing, f"modules without a layer in import_graph.LAYERS: {missing}"


def test_torch_imports_point_down_the_layers():
    bad = import_graph.upward_imports()
    names = import_graph.LAYER_NAMES
    lines = [
        f"{_where(i)}: layer {names[import_graph.layer_of(i.source)]!r} imports "
        f"{names[import_graph.layer_of(i.target)]!r}"
        for i in bad
    ]
    assert not bad, "imports pointing up:\n" + "\n".join(lines)


def test_no_private_name_is_imported_from_another_module():
    bad = import_graph.private_imports()
    assert not bad, "private names taken across modules:\n" + "\n".join(map(_where, bad))


@pytest.mark.parametrize(
    "module", ["hambox_torch.inference", "hambox_torch.export", "hambox_torch.analysis"]
)
def test_inference_export_and_analysis_load_nothing_of_the_training_loop(module):
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('hambox_torch.engine')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert out == [], f"importing {module} loads {out}"
