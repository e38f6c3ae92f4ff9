"""``hambox embedded``: help, a tiny generation equal to generate_embedded's, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("PIL")
pytest.importorskip("skimage")

from hambox_torch.cli import main
from hambox_torch.data.embedded import MANIFEST_NAME, generate_embedded, read_manifest

TINY = ["--num-train", "1", "--num-val", "2", "--no-progress"]


def _tree(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["embedded", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: hambox embedded")
    for option in ("--out", "--seed", "--num-train", "--num-val", "--overwrite", "--no-progress"):
        assert option in out, option
    assert "$HAMBOX_DATA/embedded" in out


def test_tiny_generation_writes_what_generate_embedded_writes(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["embedded", "--out", str(out), "--seed", "3", *TINY]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "val:   2 images" in printed
    counts = read_manifest(out)["counts"]
    assert counts["train"]["images"] == 1 and counts["val"]["images"] == 2
    ref = generate_embedded(tmp_path / "ref", seed=3, num_train=1, num_val=2, progress=False)
    assert _tree(out) == _tree(ref)
    # a second run with the same parameters reuses the set
    stamp = (out / MANIFEST_NAME).stat().st_mtime_ns
    assert main(["embedded", "--out", str(out), "--seed", "3", *TINY]) == 0
    assert (out / MANIFEST_NAME).stat().st_mtime_ns == stamp


def test_default_folder_is_the_default_sets(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HAMBOX_DATA", str(tmp_path))
    assert main(["embedded", *TINY]) == 0
    assert read_manifest(tmp_path / "embedded")["complete"]
    assert str(tmp_path / "embedded") in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--num-train", "0"], "--num-train must be at least 1, got 0"),
        (["--num-val", "-2"], "--num-val must be at least 1, got -2"),
        (["--seed", "-1"], "--seed must be at least 0, got -1"),
    ],
)
def test_bad_value_is_one_line_and_exit_2(tmp_path, capsys, args, match):
    out = tmp_path / "never"
    assert main(["embedded", "--out", str(out), "--no-progress", *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"hambox embedded: error: {match}"]
    assert captured.out == "" and not out.exists()


def test_foreign_folder_is_refused_in_one_line_unless_overwrite(tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("mine")
    assert main(["embedded", "--out", str(foreign), *TINY]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("hambox embedded: error: ") and "--overwrite" in line
    assert sorted(p.name for p in foreign.iterdir()) == ["x.txt"]
    assert main(["embedded", "--out", str(foreign), "--overwrite", *TINY]) == 0
    assert (foreign / "x.txt").read_text() == "mine" and (foreign / MANIFEST_NAME).is_file()


def test_argparse_rejects_a_non_integer():
    proc = subprocess.run(
        [sys.executable, "-m", "hambox_torch.cli", "embedded", "--num-train", "many"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "hambox embedded: error: argument --num-train: invalid int value: 'many'" in proc.stderr
