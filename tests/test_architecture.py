"""Structure rules that import-linter cannot express (its contracts in pyproject.toml cover the layers,
the web/CLI -> services rule, testing/ and cycles): transactions and SQL stay out of the web pages and
the CLI, and no module reaches for another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dailypapers"
ENTRY_POINTS = ("web", "cli")


def _modules(*folders: str) -> list[Path]:
    roots = [PACKAGE / f for f in folders] if folders else [PACKAGE]
    return sorted(p for root in roots for p in root.rglob("*.py") if "migrations" not in p.parts)


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _calls_of(tree: ast.AST, attributes: set[str]) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in attributes
        and isinstance(node.func.value, ast.Name | ast.Attribute)
        and (getattr(node.func.value, "id", None) or getattr(node.func.value, "attr", ""))
        in ("db", "database")
    ]


@pytest.mark.parametrize("path", _modules(*ENTRY_POINTS), ids=_name)
def test_web_and_cli_open_no_transaction_and_write_no_sql(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert _calls_of(tree, {"read", "write"}) == [], f"{_name(path)} opens a transaction: call a service"
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not {m for m in imported if m == "sqlalchemy" or m.startswith("sqlalchemy.")}, (
        f"{_name(path)} imports SQLAlchemy: SQL lives in store/, called through services/"
    )


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_private_name_imported_from_another_module(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _name(path)
    offending = [
        f"l.{node.lineno}: from {node.module} import {alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dailypapers")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__") and node.module != me
    ]
    assert offending == [], f"{me} imports private names (make them public where they live)"


def test_the_checks_see_what_they_look_for() -> None:
    """The two checks above on known-bad code: a test that cannot fail proves nothing."""
    bad = ast.parse("from dailypapers.x import _y\nwith db.write() as conn:\n    pass\n")
    assert _calls_of(bad, {"read", "write"}) == [2]
    assert any(
        a.name.startswith("_") for n in ast.walk(bad) if isinstance(n, ast.ImportFrom) for a in n.names
    )
