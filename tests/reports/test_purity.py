"""The render package stays pure: no database, no web framework, no domain imports."""

from __future__ import annotations

import ast
from pathlib import Path

import qingzhi.reports.render as render

ALLOWED_QINGZHI = ("qingzhi.errors", "qingzhi.config", "qingzhi.reports.render")
FORBIDDEN = ("sqlalchemy", "fastapi", "starlette", "alembic", "psycopg", "matplotlib.pyplot")


def test_render_imports_only_errors_config_and_itself() -> None:
    folder = Path(render.__file__).parent
    seen = set()
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                seen.add(name)
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
                if name.startswith("qingzhi"):
                    assert name.startswith(ALLOWED_QINGZHI), f"{path.name} imports {name}"
    assert "docx" in seen and "matplotlib.figure" in seen  # the scan saw the real imports
