"""Bad WIDER FACE input files: corrupt or foreign ``.mat`` files and unreadable prediction paths
give an error naming the file, never a crash of the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hambox_core.evaluation import matfile
from hambox_core.evaluation import widerface as W
from hambox_core.evaluation.cli import main as cli_main


def _small_gt():
    return W.WiderGroundTruth.from_images(
        [("0--Parade", "a"), ("0--Parade", "b"), ("1--Handshaking", "c")],
        [[[10, 10, 20, 20], [50, 50, 5, 5]], [[0, 0, 0, 0]], [[1, 2, 30, 40]]],
        {s: [[True, False], [False], [True]] for s in W.SETTINGS},
        attributes={"blur": [[0, 2], [1], [0]]},
    )


@pytest.fixture
def gt_dir(tmp_path):
    d = tmp_path / "gt"
    W.write_ground_truth(d, _small_gt())
    return d


# --------------------------------------------------------------------------------------------
# .mat files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not a MATLAB level-5 MAT-file"),
        (b"x,y\n1,2\n", "not a MATLAB level-5 MAT-file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "not a MATLAB level-5 MAT-file"),
        (b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + bytes(200), r"v7\.3 \(HDF5\)"),
        (b"MATLAB 5.0 MAT-file" + b" " * 97 + bytes(12), "cannot read it as a MATLAB file"),
    ],
)
def test_foreign_mat_files_are_named(gt_dir, content, match):
    path = gt_dir / "wider_face_val.mat"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as err:
        W.load_ground_truth(gt_dir)
    assert str(path) in str(err.value)


def test_truncated_mat_file_is_named(gt_dir):
    path = gt_dir / "wider_medium_val.mat"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError) as err:
        W.load_ground_truth(gt_dir)
    assert str(path) in str(err.value)


def test_mat_file_with_other_variables(gt_dir):
    from scipy.io import savemat

    savemat(gt_dir / "wider_hard_val.mat", {"event_list": np.arange(3)})
    with pytest.raises(ValueError, match=r"wider_hard_val\.mat: .*not a cell array"):
        W.load_ground_truth(gt_dir)
    cells = np.empty((1, 1), dtype=object)
    cells[0, 0] = np.array(["0--Parade"])
    savemat(gt_dir / "wider_hard_val.mat", {"event_list": cells})
    with pytest.raises(ValueError, match=r"wider_hard_val\.mat: missing variable file_list"):
        W.load_ground_truth(gt_dir)


def test_labels_and_keep_indices_are_checked(gt_dir, tmp_path):
    bad = W.WiderGroundTruth.from_images(
        [("0--Parade", "a")], [[[10, 10, 20, 20]]], {"hard": [[True]]}
    )
    W.write_ground_truth(tmp_path / "b", bad)
    from scipy.io import loadmat, savemat

    m = loadmat(tmp_path / "b" / "wider_hard_val.mat")
    m["gt_list"][0, 0][0, 0] = np.array([[2]], dtype=np.uint8)  # one face, index 2
    savemat(tmp_path / "b" / "wider_hard_val.mat", {k: v for k, v in m.items() if k[0] != "_"})
    with pytest.raises(ValueError, match=r"gt_list of 0--Parade/a: keep index 2 is not one"):
        W.load_ground_truth(tmp_path / "b", settings=["hard"])
    base = loadmat(tmp_path / "b" / "wider_face_val.mat")
    labels = np.empty((1, 1), dtype=object)
    labels[0, 0] = np.empty((1, 1), dtype=object)
    labels[0, 0][0, 0] = np.array([[7]], dtype=np.uint8)
    base["pose_label_list"] = labels
    savemat(tmp_path / "b" / "wider_face_val.mat", {k: v for k, v in base.items() if k[0] != "_"})
    with pytest.raises(ValueError, match=r"pose_label_list of 0--Parade/a: label 7 is not one"):
        W.load_ground_truth(tmp_path / "b", settings=[])


def test_a_crashing_reader_is_reported_with_the_file(gt_dir, monkeypatch):
    """The child's death by a signal (what a segfault in scipy looks like) becomes a
    ValueError naming the file the child was reading."""

    def crashed(*args, **kwargs):
        return subprocess.CompletedProcess(
            args, -11, stdout=b"", stderr=b"hambox-mat: reading 0\nhambox-mat: reading 2\n"
        )

    monkeypatch.setattr(matfile.subprocess, "run", crashed)
    with pytest.raises(ValueError, match="died on it") as err:
        W.load_ground_truth(gt_dir)
    assert str(gt_dir / "wider_medium_val.mat") in str(err.value)  # the third file read
    assert "signal 11" in str(err.value)

    def hung(*args, **kwargs):
        raise subprocess.TimeoutExpired(args, 1, stderr=b"hambox-mat: reading 1\n")

    monkeypatch.setattr(matfile.subprocess, "run", hung)
    with pytest.raises(ValueError, match=r"wider_easy_val\.mat: reading it took more than"):
        W.load_ground_truth(gt_dir)


@pytest.mark.slow
def test_byte_flipped_mat_files_never_crash_the_caller(gt_dir, tmp_path):
    """Byte-flipped copies of every synthetic file: each either loads or raises a ValueError
    naming the file, in a process that survives them all. The first one kills a process that
    gives it to ``scipy.io.loadmat`` directly (status -11 with scipy 1.x; printed, not
    asserted, since it depends on scipy's version)."""
    rng = np.random.default_rng(0)
    names = sorted(p.name for p in gt_dir.glob("*.mat"))
    # (file, offset, xor): seeded random flips, and one that segfaulted scipy 1.x's reader in a
    # probe of 300 flips of these files
    flips = [("wider_face_val.mat", 240, 221)]
    for k in range(15):
        name = names[k % len(names)]
        size = (gt_dir / name).stat().st_size
        flips.append((name, int(rng.integers(128, size)), int(rng.integers(1, 256))))
    cases = []
    for k, (name, offset, xor) in enumerate(flips):
        data = bytearray((gt_dir / name).read_bytes())
        data[offset] ^= xor
        case = tmp_path / f"flip{k}"
        case.mkdir()
        for other in names:
            (case / other).write_bytes((gt_dir / other).read_bytes())
        (case / name).write_bytes(bytes(data))
        cases.append((str(case), name))
    code = textwrap.dedent(
        """
        import json, sys, warnings
        from hambox_core.evaluation import widerface as W
        warnings.simplefilter("ignore")
        out = []
        for case, name in json.loads(sys.argv[1]):
            try:
                W.load_ground_truth(case)
                out.append("loaded")
            except ValueError as exc:
                out.append("named" if name in str(exc) else "other: " + str(exc))
            except Exception as exc:
                out.append("escaped: " + type(exc).__name__ + ": " + str(exc))
        print(json.dumps(out))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cases)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    outcomes = json.loads(run.stdout.splitlines()[-1])
    assert all(o in ("loaded", "named") for o in outcomes), outcomes
    assert outcomes.count("named") >= 5
    raw = "import sys; from scipy.io import loadmat; loadmat(sys.argv[1])"
    case, name = cases[0]
    status = subprocess.run(
        [sys.executable, "-c", raw, os.path.join(case, name)], capture_output=True
    ).returncode
    print(f"scipy.io.loadmat on the first flipped file: exit status {status}")


# --------------------------------------------------------------------------------------------
# prediction paths
# --------------------------------------------------------------------------------------------


def _pred_dir(tmp_path):
    d = tmp_path / "pred"
    W.write_predictions(
        d,
        {
            ("0--Parade", "a"): [[10, 10, 20, 20, 0.9], [80, 80, 9, 9, 0.3]],
            ("1--Handshaking", "c"): [[1, 2, 30, 40, 0.8]],
        },
    )
    return d


def _bad_folder(tmp_path):
    return _pred_dir(tmp_path)


@pytest.mark.parametrize("kind", ["txt_is_a_folder", "event_is_a_file", "symlink_loop"])
def test_unreadable_prediction_paths_are_one_line_errors(tmp_path, gt_dir, capsys, kind):
    d = _pred_dir(tmp_path)
    if kind == "txt_is_a_folder":
        (d / "0--Parade" / "b.txt").mkdir()
        bad = d / "0--Parade" / "b.txt"
    elif kind == "event_is_a_file":
        for f in (d / "1--Handshaking").iterdir():
            f.unlink()
        (d / "1--Handshaking").rmdir()
        (d / "1--Handshaking").write_text("not a folder")
        bad = d / "1--Handshaking" / "c.txt"
    else:
        loop = d / "0--Parade" / "b.txt"
        os.symlink(loop, loop)
        bad = loop
    with pytest.raises(ValueError) as err:
        W.read_predictions(d, W.load_ground_truth(gt_dir))
    assert str(bad) in str(err.value)
    status = cli_main(["widerface", "--pred", str(d), "--gt", str(gt_dir)])
    err_lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert status == 2 and len(err_lines) == 1 and str(bad) in err_lines[0]


def test_folder_scan_reports_bad_entries(tmp_path):
    d = _pred_dir(tmp_path)
    (d / "protocol.json").write_text("{}")  # files beside the events are not predictions
    assert sorted(W.read_predictions(d)) == [("0--Parade", "a"), ("1--Handshaking", "c")]
    (d / "0--Parade" / "z.txt").mkdir()
    with pytest.raises(ValueError, match=r"z\.txt: not a regular file"):
        W.read_predictions(d)


def test_prediction_folder_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        W.read_predictions(f)
    with pytest.raises(FileNotFoundError):
        W.read_predictions(tmp_path / "missing")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", 1),  # a binary file named .txt
        (b"name\n2\n1 2 3 4 0.5\n", 4),
        (b"name\n1\n1 2 3 4 1e999\n", 3),
    ],
)
def test_foreign_prediction_files_name_file_and_line(tmp_path, gt_dir, capsys, content, line):
    d = _pred_dir(tmp_path)
    bad = d / "0--Parade" / "a.txt"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=f"line {line}") as err:
        W.read_predictions(d, W.load_ground_truth(gt_dir))
    assert str(err.value).startswith(f"{bad}, line {line}: ")
    assert cli_main(["widerface", "--pred", str(d), "--gt", str(gt_dir)]) == 2
    assert f"error: {bad}, line {line}" in capsys.readouterr().err
