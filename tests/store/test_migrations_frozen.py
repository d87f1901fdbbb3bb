"""Migrations are frozen: each one carries the code it runs, never the live code that moves on."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import dailypapers.store

VERSIONS = Path(dailypapers.store.__file__).with_name("migrations") / "versions"
ALLOWED = {"alembic", "sqlalchemy", "__future__"}


def _imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports, wherever the import statement is (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import reaches into a package: not frozen either
                found.add("." * node.level + (node.module or ""))
            else:
                found.add((node.module or "").split(".")[0])
    return found


def test_there_are_migrations() -> None:
    assert len(sorted(VERSIONS.glob("*.py"))) >= 7


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.name)
def test_migration_imports_only_alembic_sqlalchemy_and_the_standard_library(path: Path) -> None:
    packages = _imported_packages(path)
    assert "dailypapers" not in packages, f"{path.name} imports live code of dailypapers: copy it in"
    outside = {p for p in packages if p not in ALLOWED and p not in sys.stdlib_module_names}
    assert not outside, f"{path.name} imports {sorted(outside)}"
