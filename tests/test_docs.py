"""Documentation stays true: every setting and every CLI command is in the README."""

from __future__ import annotations

from pathlib import Path

from dailypapers.cli import app
from dailypapers.core.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


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
