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


# The commands with a progress bar, all taking the one --no-progress (issue 18.4).
WITH_PROGRESS = ["train", "eval", "detect", "anchors", "analyze", "embedded"]


@pytest.mark.parametrize("name", NAMES)
def test_one_no_progress_option_everywhere(name):
    sub = _subparsers(build_parser())[name]
    options = {o for a in sub._actions for o in a.option_strings}
    assert "--quiet" not in options
    assert ("--no-progress" in options) == (name in WITH_PROGRESS)


# The arguments each command requires (so that the unknown option is the only problem).
REQUIRED = {
    "eval": ["--weights", "x.pt"],
    "detect": ["x.jpg", "--weights", "x.pt"],
    "export": ["--weights", "x.pt", "--onnx", "x.onnx"],
    "anchors": ["--gt", "x"],
    "analyze": ["--weights", "x.pt"],
}


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_option_prints_the_subcommands_usage(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, *REQUIRED.get(name, []), "--no-such-option"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: hambox {name}")
    assert err.strip().splitlines()[-1] == (
        f"hambox {name}: error: unrecognized arguments: --no-such-option"
    )


def test_export_to_an_unwritable_path_fails_at_once(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "model.onnx"
    # Fails on the output before looking at the (missing) checkpoint or building anything.
    assert main(["export", "--weights", str(tmp_path / "missing.pt"), "--onnx", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"hambox export: error: --onnx '{target}' cannot be written: {blocker} is a "
                   "file, not a folder"]  # fmt: skip
    folder = tmp_path / "folder"
    folder.mkdir()
    assert main(["export", "--weights", "x.pt", "--onnx", str(folder)]) == 2
    assert "it is a folder; give a file name" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "option"), [("anchors", "--png"), ("analyze", "--json")])
def test_figures_and_json_are_checked_before_the_work(tmp_path, capsys, command, option):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    source = ["--gt", str(tmp_path)] if command == "anchors" else ["--weights", "x.pt"]
    assert main([command, *source, option, str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hambox {command}: error: {option} ") and "cannot be written" in err
