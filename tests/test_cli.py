"""The ``hambox`` command as a whole: every subcommand registered, every option explained."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from hambox_torch.cli import COMMANDS, build_parser, main

NAMES = ["train", "eval", "detect", "export", "anchors", "analyze", "embedded"]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_registered_in_order():
    assert len(COMMANDS) == len(NAMES)
    assert list(_subparsers(build_parser())) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_option_has_help(name, capsys):
    sub = _subparsers(build_parser())[name]
    assert sub.description, f"hambox {name} has no description"
    for action in sub._actions:
        assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert f"usage: hambox {name}" in capsys.readouterr().out


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("hambox")
    if not script.exists():
        pytest.skip("not installed as a console script in this environment")
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and all(n in proc.stdout for n in NAMES)


def test_module_entry_point_reports_bad_input_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "hambox_torch.cli", "eval", "--weights", "/nonexistent.pt",
         "--data", "/nonexistent"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hambox eval: error:"), proc.stderr
