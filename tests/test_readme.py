"""The README documents what a user can set and run."""

from __future__ import annotations

import re
from pathlib import Path

from pathgrad.cli import build_parser
from service.settings import ENVIRONMENT

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_environment_variable_is_documented() -> None:
    missing = [name for name in ENVIRONMENT if f"`{name}`" not in README]
    assert not missing, f"README lacks configuration rows for {missing}"


def test_every_cli_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    missing = [name for name in commands if f"pathgrad {name}" not in README]
    assert not missing, f"README does not show {missing}"


def test_quick_start_is_the_two_make_commands() -> None:
    start = README.index("## Quick start")
    quick = README[start : README.index("\n## ", start + 1)]
    assert re.search(r"^make run\b", quick, re.M) and re.search(r"^make test\b", quick, re.M)


def test_no_placeholder_left() -> None:
    assert not re.findall(r"\b[A-Z]{4,}_[A-Z_]{4,}\b(?!`)", README.replace("PATHGRAD_", "")
                          .replace("REDIS_URL", "").replace("MAX_", ""))


def test_what_the_code_cites_is_in_the_repo() -> None:
    root = Path(__file__).resolve().parent.parent
    contract = (root / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\d+)\.", contract, re.M))
    cited = set()
    for path in [*root.glob("pathgrad/**/*.py"), *root.glob("service/**/*.py"),
                 *root.glob("worker/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?<!docs/)CONTRACT\.md", text), f"{path}: cites a missing file"
        cited |= set(re.findall(r"docs/CONTRACT\.md sections? (\d+)", text))
    assert cited and cited <= sections, cited - sections
