"""The layers of DESIGN.md, checked on the source: services hold no SQL, the domain does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "deskchat"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted((SRC / "services").glob("*.py")), ids=lambda p: p.name)
def test_services_import_nothing_from_sqlalchemy_or_the_tables(path: Path) -> None:
    bad = {m for m in imported_modules(path)
           if m.split(".")[0] == "sqlalchemy" or m.startswith("deskchat.storage.tables")}
    assert not bad, f"{path.name} imports {sorted(bad)}: put the query in a repository method"


@pytest.mark.parametrize("path", sorted((SRC / "domain").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_no_framework_and_no_io(path: Path) -> None:
    roots = {m.split(".")[0] for m in imported_modules(path)}
    assert not roots & {"sqlalchemy", "fastapi", "starlette", "asyncio", "redis", "httpx"}, path.name
    assert not {m for m in imported_modules(path) if m.startswith(("deskchat.services", "deskchat.storage",
                                                                     "deskchat.api", "deskchat.realtime"))}
