"""The public surface: every name `rag` exports resolves, and the faces use nothing else."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import rag
from tests.conftest import REPO


def test_every_exported_name_resolves() -> None:
    assert len(set(rag.__all__)) == len(rag.__all__) > 30
    for name in rag.__all__:
        assert getattr(rag, name) is not None, name


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        rag.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("rag.no_such_name resolved")


def test_the_faces_import_only_the_public_surface() -> None:
    for path in sorted((REPO / "ui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rag"):
                assert node.module == "rag", f"{path.name}: from {node.module} import ..."
                assert {a.name for a in node.names} <= set(rag.__all__), path.name


def test_importing_rag_loads_no_model_index_or_framework() -> None:
    code = (
        "import sys, rag; heavy = {'torch', 'faiss', 'onnxruntime', 'gradio', 'fastapi'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert Path(rag.__file__).parent == REPO / "rag"
