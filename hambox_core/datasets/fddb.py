"""FDDB annotation files: fold lists and ellipse lists.

The formats are those of the FDDB distribution (Jain and Learned-Miller, "FDDB: A Benchmark
for Face Detection in Unconstrained Settings", UMass TR UM-CS-2010-009, files
``FDDB-folds/FDDB-fold-XX.txt`` and ``FDDB-folds/FDDB-fold-XX-ellipseList.txt``).

Fold list: one image name per line, without extension, e.g. ``2002/08/11/big/img_591``.

Ellipse list: per image a name line, a count line and one line per face::

    2002/08/11/big/img_591
    1
    123.583300 85.549500 1.265839 269.693400 161.781200  1

with ``major_axis_radius minor_axis_radius angle center_x center_y 1``; the angle is in
radians, the major axis points along ``(cos angle, sin angle)`` in image coordinates (x to the
right, y down), and the trailing ``1`` is a constant that the reader accepts but does not keep
(rows of five values are accepted too).

Choices: blank lines are skipped; a malformed line (wrong number of values, a value that does
not parse or is not finite, a negative radius, fewer rows than the count, a duplicate image, a
name with whitespace) raises :class:`ValueError` naming the file and the 1-based line; nothing
is dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np

from ._text import (
    LineReader,
    fail,
    finite_matrix,
    format_number,
    is_number,
    parse_count,
    parse_floats,
    read_text_lines,
)

__all__ = [
    "read_fddb_ellipses",
    "read_fddb_fold",
    "write_fddb_ellipses",
    "write_fddb_fold",
]


def _name(path: str, lineno: int, line: str) -> str:
    tokens = line.split()
    if len(tokens) != 1:
        raise fail(path, lineno, f"expected an image name (one token), got {line.strip()!r}")
    if is_number(tokens[0]):
        raise fail(path, lineno, f"expected an image name, got the number {tokens[0]!r}")
    return tokens[0]


def _check_writable_name(name: str) -> None:
    if not isinstance(name, str) or not name or len(name.split()) != 1 or name != name.strip():
        raise ValueError(f"image name {name!r} must be one token without whitespace")


def read_fddb_fold(path) -> list[str]:
    """Read an FDDB fold list (``FDDB-fold-XX.txt``): image names in file order.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If a line holds more than one token or a number, or a name repeats (file and line named).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "fold.txt"
    >>> _ = f.write_text("2002/08/11/big/img_591\\n2002/08/26/big/img_265\\n")
    >>> read_fddb_fold(f)
    ['2002/08/11/big/img_591', '2002/08/26/big/img_265']
    """
    p, lines = read_text_lines(path)
    reader = LineReader(p, lines)
    names: list[str] = []
    seen: dict[str, int] = {}
    while (item := reader.next()) is not None:
        lineno, line = item
        name = _name(p, lineno, line)
        if name in seen:
            raise fail(p, lineno, f"image {name!r} already listed on line {seen[name]}")
        seen[name] = lineno
        names.append(name)
    return names


def write_fddb_fold(path, names: Iterable[str]) -> None:
    """Write an FDDB fold list, one name per line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "fold.txt"
    >>> write_fddb_fold(f, ["a/b", "c/d"])
    >>> f.read_text()
    'a/b\\nc/d\\n'
    """
    names = list(names)
    for n in names:
        _check_writable_name(n)
    with open(os.fspath(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(f"{n}\n" for n in names))


def read_fddb_ellipses(path) -> dict[str, np.ndarray]:
    """Read an FDDB ellipse list (``FDDB-fold-XX-ellipseList.txt``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict of str to ndarray of shape (N, 5), float64
        Per image, in file order: ``(major_radius, minor_radius, angle, center_x, center_y)``,
        angle in radians.

    Raises
    ------
    ValueError
        On malformed input; the message starts with ``"<path>, line <n>: "``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ell.txt"
    >>> _ = f.write_text("2002/08/11/big/img_591\\n1\\n"
    ...                  "123.583300 85.549500 1.265839 269.693400 161.781200  1\\n")
    >>> read_fddb_ellipses(f)["2002/08/11/big/img_591"].tolist()
    [[123.5833, 85.5495, 1.265839, 269.6934, 161.7812]]
    """
    p, lines = read_text_lines(path)
    reader = LineReader(p, lines)
    out: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    while (item := reader.next()) is not None:
        name_line, line = item
        name = _name(p, name_line, line)
        if name in seen:
            raise fail(p, name_line, f"image {name!r} already listed on line {seen[name]}")
        seen[name] = name_line
        count_line, line = reader.expect(f"the face count of {name!r}")
        count = parse_count(p, count_line, line)
        rows = []
        for k in range(count):
            lineno, line = reader.expect(f"ellipse {k + 1} of {count} of {name!r}")
            tokens = line.split()
            if len(tokens) not in (5, 6):
                raise fail(
                    p,
                    lineno,
                    f"expected 'major_radius minor_radius angle center_x center_y [1]' for "
                    f"ellipse {k + 1} of {count} of {name!r}, got {len(tokens)} values",
                )
            values = parse_floats(p, lineno, tokens[:5], f"ellipse {k + 1} of {name!r}")
            if len(tokens) == 6:
                parse_floats(p, lineno, tokens[5:], f"ellipse {k + 1} of {name!r}")
            if values[0] < 0 or values[1] < 0:
                raise fail(p, lineno, f"ellipse radii must be >= 0, got {values[:2]}")
            rows.append(values)
        out[name] = np.asarray(rows, dtype=np.float64).reshape(count, 5)
    return out


def write_fddb_ellipses(path, ellipses: Mapping[str, np.ndarray]) -> None:
    """Write an FDDB ellipse list (rows end with the constant ``1`` like the original files).

    Parameters
    ----------
    path : str or os.PathLike
        Output file (overwritten).
    ellipses : mapping of str to array_like of shape (N, 5)
        ``(major_radius, minor_radius, angle, center_x, center_y)`` per face.

    Raises
    ------
    ValueError
        If a name contains whitespace, an array is not ``(N, 5)``, or a value is not finite.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ell.txt"
    >>> write_fddb_ellipses(f, {"a/b": [[20, 15, 1.5, 40, 50]]})
    >>> f.read_text()
    'a/b\\n1\\n20 15 1.5 40 50  1\\n'
    """
    chunks = []
    for name, arr in ellipses.items():
        _check_writable_name(name)
        a = finite_matrix(arr, 5, f"{name}: ellipses")
        chunks.append(f"{name}\n{a.shape[0]}\n")
        for row in a:
            chunks.append(" ".join(format_number(v) for v in row) + "  1\n")
    with open(os.fspath(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(chunks))
