"""Every command has help text and is documented in the README, with its options."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from lgtt.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, typer.main.TyperCommand]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_every_command_has_help_and_a_readme_section() -> None:
    commands = _commands()
    assert {"threads", "timeline", "show", "demo"} <= set(commands)
    for name, command in commands.items():
        assert (command.help or "").strip(), f"{name} has no help text"
        assert f"lgtt {name}" in README, f"README does not mention `lgtt {name}`"


def test_every_option_is_in_the_readme() -> None:
    shared = {"--db", "--graph", "--json", "--no-color", "--debug", "--help", "-h"}
    for name, command in _commands().items():
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in shared:
                    assert opt in README, f"`lgtt {name} {opt}` is not in the README"


def test_readme_gives_the_two_setup_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    assert any("pip install -e ." in b and "lgtt demo" in b for b in blocks)
    assert any(b.strip() == "bash .ci/run" for b in blocks)
