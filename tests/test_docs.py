"""Documentation stays true: every setting and every CLI command is in the README, every module in
docs/architecture.md's map."""

from __future__ import annotations

from pathlib import Path

from dailypapers.cli import app
from dailypapers.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()


def test_every_setting_is_documented_with_its_default() -> None:
    for name, field in Settings.model_fields.items():
        row = next(
            (line for line in README.splitlines() if line.startswith(f"| `DAILYPAPERS_{name.upper()}`")), None
        )
        assert row is not None, f"setting {name} is missing from the README table"
        assert f"`{field.default}`" in row, f"README default of {name} differs from the code"
        assert field.description, f"setting {name} has no help text"


def test_every_cli_command_is_documented() -> None:
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert names
    for name in names:
        assert f"`dailypapers {name}" in README, f"CLI command {name} is missing from the README"


def test_every_module_is_on_the_architecture_map() -> None:
    """A newcomer finds each module in the map: its file name is listed under its folder."""
    package = ROOT / "src" / "dailypapers"
    modules = [
        p
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "migrations" not in p.parts
    ]
    assert len(modules) > 50
    missing = [str(p.relative_to(package)) for p in modules if f"{p.stem}.py" not in ARCHITECTURE]
    assert missing == [], f"not in docs/architecture.md: {missing}"
