"""The README as a newcomer follows it: every page listed, every command runnable as written."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from dailypapers.cli import app as cli_app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ACTIVATE = "source .venv/bin/activate"


def _page_paths(tmp_path: Path) -> set[str]:
    """Every GET path of the web app's route table, with the demo's mailbox routes included."""
    from dailypapers.core.settings import Settings
    from dailypapers.store.db import Database
    from dailypapers.web import mailbox, pages, subscriptions
    from dailypapers.web.app import create_app

    web = create_app(Settings(), Database(f"sqlite:///{tmp_path / 'routes.db'}"), mailbox=tmp_path)
    routes = [r for r in web.router.routes if hasattr(r, "methods")]
    routes += [r for module in (pages, subscriptions, mailbox) for r in module.router.routes]
    return {r.path for r in routes if "GET" in (r.methods or ())}


def test_every_page_is_in_the_pages_table(tmp_path: Path) -> None:
    paths = _page_paths(tmp_path)
    assert {
        "/",
        "/search",
        "/subscribe",
        "/subscription",
        "/unsubscribe",
        "/demo/mailbox",
        "/api/docs",
    } <= paths
    # `.json` twins are covered by the sentence on JSON; the favicon is not a page.
    for path in sorted(p for p in paths if not p.endswith(".json") and p != "/favicon.ico"):
        # A {parameter} stands for any example value: /papers/{arxiv_id} is `/papers/2606.31315`.
        pattern = (
            "`"
            + "".join(
                "[^/`\\s?]+" if part.startswith("{") else re.escape(part)
                for part in re.split(r"(\{[^}]+\})", path)
                if part
            )
            + "[`?]"
        )
        assert re.search(pattern, README), f"{path} is not listed in the README"


def test_commands_work_as_written_once_the_venv_is_active() -> None:
    assert ACTIVATE in README
    # After the step that activates the venv, commands say `dailypapers …` and `python …`, not .venv/bin/.
    after = README.split(ACTIVATE, 1)[1]
    assert ".venv/bin/" not in after
    commands = {c.name or c.callback.__name__ for c in cli_app.registered_commands}
    commands |= {g.name for g in cli_app.registered_groups}
    code = "\n".join(re.findall(r"```bash\n(.*?)```", README, re.DOTALL) + re.findall(r"`([^`\n]+)`", README))
    used = set(re.findall(r"(?:^|\s)dailypapers ([a-z][a-z-]*)", code, re.MULTILINE))
    assert used and used <= commands, f"the README names commands that do not exist: {used - commands}"
    for module in set(re.findall(r"python -m ([\w.]+)", code)):
        assert importlib.util.find_spec(module) is not None, f"the README runs a missing module {module}"


def test_the_demo_script_passes_its_arguments_to_the_demo_command() -> None:
    text = (ROOT / "scripts" / "demo.sh").read_text()
    assert re.search(r'dailypapers demo "\$@"\s*$', text, re.MULTILINE)
    assert "./scripts/demo.sh --port" in README
