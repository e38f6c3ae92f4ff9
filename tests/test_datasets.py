"""Annotation readers and writers: round trips, the official quirks, and mutation tests.

The mutation tests take a valid file, break it at random (delete, duplicate, swap or insert
lines, replace or drop tokens, truncate, insert bytes that are not UTF-8) and require that the
reader either raises ValueError naming the file and a line that exists, or returns records that
account for every non-blank line of the file: nothing is dropped silently.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import box_arrays

from hambox_core.datasets import (
    WiderAnnotation,
    read_fddb_ellipses,
    read_fddb_fold,
    read_retinaface_labels,
    read_wider_annotations,
    write_fddb_ellipses,
    write_fddb_fold,
    write_retinaface_labels,
    write_wider_annotations,
)

TMP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------


@st.composite
def wider_official(draw):
    n_img = draw(st.integers(0, 5))
    out = []
    for i in range(n_img):
        n = draw(st.integers(0, 4))
        xywh = np.array(
            [
                [
                    draw(st.integers(0, 2000)),
                    draw(st.integers(0, 2000)),
                    draw(st.integers(-2, 400)),
                    draw(st.integers(-2, 400)),
                ]
                for _ in range(n)
            ],
            dtype=np.float64,
        ).reshape(n, 4)
        attrs = np.array(
            draw(st.lists(st.integers(0, 2), min_size=6 * n, max_size=6 * n)), dtype=np.int64
        ).reshape(n, 6)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        out.append(
            WiderAnnotation(
                f"{i}--Event/{i}_img_{draw(st.integers(0, 99))}.jpg",
                boxes.astype(np.float32),
                attributes=attrs,
            )
        )
    return out


@st.composite
def retinaface_labels(draw):
    n_img = draw(st.integers(0, 4))
    landmarks = draw(st.booleans())
    scores = landmarks and draw(st.booleans())
    out = []
    for i in range(n_img):
        boxes = draw(box_arrays(max_n=4, lo=0, hi=1000))
        n = boxes.shape[0]
        lm = sc = None
        if landmarks:
            vals = draw(st.lists(st.floats(-1, 1000, width=32), min_size=15 * n, max_size=15 * n))
            lm = np.array(vals, dtype=np.float32).reshape(n, 5, 3)
            if scores:
                sc = np.array(
                    draw(st.lists(st.floats(-1, 1, width=32), min_size=n, max_size=n)),
                    dtype=np.float32,
                )
        wh = draw(st.one_of(st.none(), st.tuples(st.integers(1, 4000), st.integers(1, 4000))))
        out.append(
            WiderAnnotation(f"{i}--Ev/img_{i}.jpg", boxes, landmarks=lm, scores=sc, image_wh=wh)
        )
    return out


@st.composite
def fddb_ellipses(draw):
    out = {}
    for i in range(draw(st.integers(0, 4))):
        n = draw(st.integers(0, 3))
        vals = draw(st.lists(st.floats(0, 500, allow_nan=False), min_size=5 * n, max_size=5 * n))
        out[f"2002/08/{i:02d}/big/img_{i}"] = np.array(vals, dtype=np.float64).reshape(n, 5)
    return out


# --------------------------------------------------------------------------------------------
# round trips and the official format
# --------------------------------------------------------------------------------------------


def _same(a: WiderAnnotation, b: WiderAnnotation):
    assert a.name == b.name and a.image_wh == b.image_wh
    np.testing.assert_array_equal(a.boxes, b.boxes)
    for field in ("attributes", "landmarks", "scores"):
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


@TMP
@given(wider_official())
def test_official_round_trip(tmp_path, anns):
    f = tmp_path / "gt.txt"
    write_wider_annotations(f, anns)
    back = read_wider_annotations(f)
    assert len(back) == len(anns)
    for a, b in zip(anns, back, strict=True):
        _same(a, b)


@TMP
@given(retinaface_labels())
def test_retinaface_round_trip(tmp_path, anns):
    f = tmp_path / "label.txt"
    write_retinaface_labels(f, anns)
    back = read_retinaface_labels(f)
    assert len(back) == len(anns)
    if sum(len(a) for a in anns) == 0:
        # landmarks and scores are a property of the file's rows: without rows, there are none
        anns = [WiderAnnotation(a.name, a.boxes, image_wh=a.image_wh) for a in anns]
    for a, b in zip(anns, back, strict=True):
        _same(a, b)


@TMP
@given(
    fddb_ellipses(),
    st.lists(st.from_regex(r"[a-z0-9_/]{1,12}", fullmatch=True), unique=True, max_size=5),
)
def test_fddb_round_trip(tmp_path, ellipses, names):
    f = tmp_path / "ell.txt"
    write_fddb_ellipses(f, ellipses)
    back = read_fddb_ellipses(f)
    assert back.keys() == ellipses.keys()
    for k in ellipses:
        np.testing.assert_array_equal(back[k], ellipses[k])
    names = [n for n in names if not re.fullmatch(r"[0-9_]+", n)]  # numbers are not names
    write_fddb_fold(tmp_path / "fold.txt", names)
    assert read_fddb_fold(tmp_path / "fold.txt") == names


def test_official_format_details(tmp_path):
    f = tmp_path / "gt.txt"
    f.write_bytes(
        b"\xef\xbb\xbf0--Parade/0_Parade_marchingband_1_849.jpg\r\n1\r\n"
        b"449 330 122 149 0 0 0 0 0 0 \r\n"
        b"0--Parade/empty_with_dummy.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n\n\n"
        b"0--Parade/empty_without_dummy.jpg\n0\n"
        b"39--Ice_Skating/neg.jpg\n1\n1026 474 -2 23 2 0 0 1 0 0 \n"
    )
    anns = read_wider_annotations(f)
    assert [(a.name.split("/")[1], len(a)) for a in anns] == [
        ("0_Parade_marchingband_1_849.jpg", 1),
        ("empty_with_dummy.jpg", 0),
        ("empty_without_dummy.jpg", 0),
        ("neg.jpg", 1),
    ]
    assert anns[0].boxes.tolist() == [[449, 330, 571, 479]]
    assert anns[3].boxes.tolist() == [[1026, 474, 1024, 497]]  # kept as is: x1 < x0
    assert anns[3].attributes.tolist() == [[2, 0, 0, 1, 0, 0]]
    assert anns[3].valid().tolist() == [False]
    np.testing.assert_array_equal(anns[3].xywh(), [[1026, 474, -2, 23]])
    # the writer reproduces the official layout, dummy rows and trailing spaces included
    out = tmp_path / "out.txt"
    write_wider_annotations(out, anns)
    assert out.read_text().splitlines()[:6] == [
        "0--Parade/0_Parade_marchingband_1_849.jpg",
        "1",
        "449 330 122 149 0 0 0 0 0 0 ",
        "0--Parade/empty_with_dummy.jpg",
        "0",
        "0 0 0 0 0 0 0 0 0 0 ",
    ]


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("a.jpg\n1\n1 2 3 4 0 0 0 0 0\n", 3, "expected 10 integers"),
        ("a.jpg\n1\n1 2 3 4.5 0 0 0 0 0 0\n", 3, "'4.5' is not an integer"),
        ("a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", 4, "file ends where face 2 of 2"),
        ("a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n1 2 3 4 0 0 0 0 0 0\n", 4, "image name \\(one token"),
        ("a.jpg\n0\n1 2 3 4 0 0 0 0 0 0\n", 3, "dummy row of zeros"),
        ("a.jpg\nx\n", 2, "not an integer"),
        ("a.jpg\n", 2, "file ends where the face count"),
        ("12\n0\n", 1, "got the number"),
        ("a.jpg\n1\n16777216 0 1 1 0 0 0 0 0 0\n", 3, "too large for exact float32"),
        ("a.jpg\n0\nb.jpg\n0\na.jpg\n0\n", 5, "already listed on line 1"),
    ],
)
def test_official_reader_errors(tmp_path, text, line, match):
    f = tmp_path / "gt.txt"
    f.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        read_wider_annotations(f)
    assert str(err.value).startswith(f"{f}, line {line}: ")


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("1 2 3 4\n", 1, "'# <image path>' line first"),
        ("# a.jpg\n1 2 3 4 5\n", 2, "4, 19 or 20 values"),
        ("# a.jpg\n1 2 3 nan\n", 2, "not finite"),
        ("# a.jpg 100\n", 1, "width height"),
        ("# a.jpg 100 0\n", 1, "positive"),
        ("# 5\n", 1, "got the number"),
    ],
)
def test_retinaface_reader_errors(tmp_path, text, line, match):
    f = tmp_path / "label.txt"
    f.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        read_retinaface_labels(f)
    assert str(err.value).startswith(f"{f}, line {line}: ")


def test_retinaface_mixed_rows_fill_minus_one(tmp_path):
    f = tmp_path / "label.txt"
    f.write_text("# a.jpg\n1 2 3 4\n10 20 30 40 " + " ".join(["5"] * 15) + " 0.5\n")
    (a,) = read_retinaface_labels(f)
    assert a.landmarks[0].tolist() == [[-1, -1, -1]] * 5 and a.scores.tolist() == [-1, 0.5]
    assert a.landmarks[1].tolist() == [[5, 5, 5]] * 5


def test_writers_refuse_what_the_format_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="integer"):
        write_wider_annotations(
            tmp_path / "a", [WiderAnnotation("a.jpg", np.array([[0, 0, 1.5, 2]], np.float32))]
        )
    with pytest.raises(ValueError, match="whitespace"):
        write_wider_annotations(tmp_path / "a", [WiderAnnotation("a b.jpg", np.zeros((0, 4)))])
    with pytest.raises(ValueError, match="attributes"):
        write_wider_annotations(
            tmp_path / "a",
            [WiderAnnotation("a.jpg", np.zeros((1, 4), np.float32), attributes=np.zeros((1, 5)))],
        )
    with pytest.raises(ValueError, match="landmarks"):
        write_retinaface_labels(
            tmp_path / "b",
            [WiderAnnotation("a.jpg", np.zeros((1, 4), np.float32), landmarks=np.zeros((1, 4, 3)))],
        )
    with pytest.raises(ValueError, match=r"shape \(N, 5\)"):
        write_fddb_ellipses(tmp_path / "c", {"a": np.zeros((1, 4))})
    with pytest.raises(ValueError, match="whitespace"):
        write_fddb_fold(tmp_path / "d", ["a b"])


def test_fddb_reader_errors(tmp_path):
    f = tmp_path / "ell.txt"
    for text, line, match in [
        ("img\n1\n1 2 3 4\n", 3, "major_radius"),
        ("img\n1\n-1 2 3 4 5 1\n", 3, "radii"),
        ("img\n1\n1 2 3 4 x 1\n", 3, "not a number"),
        ("img\n2\n1 2 3 4 5 1\n", 4, "file ends"),
    ]:
        f.write_text(text)
        with pytest.raises(ValueError, match=match) as err:
            read_fddb_ellipses(f)
        assert str(err.value).startswith(f"{f}, line {line}: ")
    f.write_text("a/b\na/b c\n")
    with pytest.raises(ValueError, match="line 2: expected an image name"):
        read_fddb_fold(f)


@pytest.mark.parametrize(
    ("token", "match"),
    [
        ("1_0", "not a number"),  # Python's float() reads 10
        ("\u0661\u0662", "not a number"),  # Arabic-Indic digits
        ("\uff11\uff12", "not a number"),  # full-width digits
        ("0x1p3", "not a number"),
        ("4e38", "overflows float32"),
        ("-3.5e38", "overflows float32"),
        ("1e400", "overflows float32"),
        ("nan", "not finite"),
        ("-Infinity", "not finite"),
    ],
)
def test_numbers_are_plain_decimal_and_fit_float32(tmp_path, token, match):
    f = tmp_path / "ell.txt"
    f.write_text(f"img\n1\n10 8 0.5 {token} 20 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=match) as err:
        read_fddb_ellipses(f)
    assert str(err.value).startswith(f"{f}, line 3: ")
    # counts too: plain decimal integers only
    f.write_text(f"img\n{token}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: .*(integer|finite|negative)"):
        read_fddb_ellipses(f)


def test_plain_decimal_forms_are_read():
    from hambox_core.datasets._text import FLOAT32_OVERFLOW, parse_count, parse_floats

    tokens = ["12", "-3.5", "+.5", "5.", "1e-3", "2E+2", "3.4028234e38", "-0"]
    assert parse_floats("f", 1, tokens, "x") == [
        12.0,
        -3.5,
        0.5,
        5.0,
        1e-3,
        200.0,
        3.4028234e38,
        0.0,
    ]
    assert parse_count("f", 1, "3.0") == 3 and parse_count("f", 1, "+7") == 7
    # the largest float32 reads; halfway to the next power of two rounds to inf in float32
    largest = float(np.finfo(np.float32).max)
    assert parse_floats("f", 1, [repr(largest)], "x") == [largest]
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(FLOAT32_OVERFLOW))
        assert np.float32(np.nextafter(FLOAT32_OVERFLOW, 0.0)) == largest


# --------------------------------------------------------------------------------------------
# mutation tests
# --------------------------------------------------------------------------------------------

_JUNK = ["abc", "nan", "inf", "-1", "1.5", "0", "00", "3", "99999", "#", "1e400", "--", "٣"]


@st.composite
def mutated(draw, text: str):
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(
                ["del", "dup", "swap", "insert", "token", "droptok", "truncate", "bytes", "blank"]
            )
        )
        k = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "del" and lines:
            del lines[k]
        elif op == "dup" and lines:
            lines.insert(k, lines[k])
        elif op == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[k], lines[j] = lines[j], lines[k]
        elif op == "insert":
            toks = draw(st.lists(st.sampled_from(_JUNK), min_size=1, max_size=11))
            lines.insert(k, " ".join(toks))
        elif op in ("token", "droptok") and lines:
            toks = lines[k].split()
            if toks:
                i = draw(st.integers(0, len(toks) - 1))
                if op == "token":
                    toks[i] = draw(st.sampled_from(_JUNK))
                else:
                    del toks[i]
                lines[k] = " ".join(toks)
        elif op == "truncate":
            joined = "\n".join(lines)
            lines = joined[: draw(st.integers(0, len(joined)))].split("\n")
        elif op == "blank":
            lines.insert(k, "   ")
        elif op == "bytes":
            lines.insert(k, "\udcff")  # written as an invalid UTF-8 byte below
    return "\n".join(lines)


def _write(path, text):
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))


def _check_error(err: ValueError, path, text):
    m = re.match(rf"^{re.escape(str(path))}, line (\d+): ", str(err))
    assert m, f"message does not name file and line: {err}"
    assert 1 <= int(m.group(1)) <= text.count("\n") + 2


def _nonblank(text):
    return [ln for ln in text.split("\n") if ln.strip()]


@TMP
@given(st.data())
def test_official_reader_mutations(tmp_path, data):
    anns = data.draw(wider_official())
    f = tmp_path / "gt.txt"
    write_wider_annotations(f, anns)
    text = data.draw(mutated(f.read_text()))
    _write(f, text)
    try:
        back = read_wider_annotations(f)
    except ValueError as err:
        _check_error(err, f, text)
        return
    # every non-blank line is a name, a count, a face row or a dummy row after a 0 count
    lines = _nonblank(text)
    faces = sum(len(a) for a in back)
    dummies = len(lines) - 2 * len(back) - faces
    assert 0 <= dummies <= sum(1 for a in back if len(a) == 0)
    # and the faces are the file's rows, in order
    rows = [
        ln.split() for ln in lines if len(ln.split()) == 10 and any(int(t) != 0 for t in ln.split())
    ]
    got = [np.concatenate([a.xywh(), a.attributes], axis=1) for a in back if len(a)]
    got = np.concatenate(got).astype(np.int64).tolist() if got else []
    assert [r for r in got if any(r)] == [[int(t) for t in r] for r in rows]


@TMP
@given(st.data())
def test_retinaface_reader_mutations(tmp_path, data):
    anns = data.draw(retinaface_labels())
    f = tmp_path / "label.txt"
    write_retinaface_labels(f, anns)
    text = data.draw(mutated(f.read_text()))
    _write(f, text)
    try:
        back = read_retinaface_labels(f)
    except ValueError as err:
        _check_error(err, f, text)
        return
    lines = _nonblank(text)
    heads = [ln for ln in lines if ln.strip().startswith("#")]
    assert len(back) == len(heads)
    assert sum(len(a) for a in back) == len(lines) - len(heads)


@TMP
@given(st.data())
def test_fddb_reader_mutations(tmp_path, data):
    ellipses = data.draw(fddb_ellipses())
    f = tmp_path / "ell.txt"
    write_fddb_ellipses(f, ellipses)
    text = data.draw(mutated(f.read_text()))
    _write(f, text)
    try:
        back = read_fddb_ellipses(f)
    except ValueError as err:
        _check_error(err, f, text)
        return
    lines = _nonblank(text)
    assert len(lines) == 2 * len(back) + sum(len(v) for v in back.values())


@TMP
@given(st.data())
def test_fold_reader_mutations(tmp_path, data):
    names = [f"2002/08/{i:02d}/big/img_{i}" for i in range(data.draw(st.integers(0, 6)))]
    f = tmp_path / "fold.txt"
    write_fddb_fold(f, names)
    text = data.draw(mutated(f.read_text()))
    _write(f, text)
    try:
        back = read_fddb_fold(f)
    except ValueError as err:
        _check_error(err, f, text)
        return
    assert back == [ln.strip() for ln in _nonblank(text)]


@TMP
@given(st.data())
def test_prediction_file_reader_mutations(tmp_path, data):
    from hambox_core.evaluation.widerface import read_prediction_file, write_predictions

    n = data.draw(st.integers(0, 5))
    rows = np.array(
        data.draw(st.lists(st.floats(-10, 1000, allow_nan=False), min_size=5 * n, max_size=5 * n))
    ).reshape(n, 5)
    write_predictions(tmp_path, {("ev", "img"): rows})
    f = tmp_path / "ev" / "img.txt"
    text = data.draw(mutated(f.read_text()))
    _write(f, text)
    try:
        back = read_prediction_file(f)
    except ValueError as err:
        _check_error(err, f, text)
        return
    lines = text.split("\n")
    assert back.shape == (int(float(lines[1])), 5)
    assert back.shape[0] == len(_nonblank("\n".join(lines[2:])))
