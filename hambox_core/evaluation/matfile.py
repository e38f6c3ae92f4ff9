"""Reading MATLAB ``.mat`` files so that a corrupt file cannot crash the caller.

``scipy.io.loadmat`` trusts the sizes written in a level-5 MAT-file: a file with a few flipped
bytes can make it read out of bounds and kill the Python process with a segmentation fault
(5 of 300 single-byte corruptions of a small uncompressed ground-truth file did, in a probe),
which no ``try``/``except`` can catch. :func:`read_cell_variables` therefore runs ``loadmat`` in
a child Python process (this file, run as a script, needs only numpy and scipy): if the child
crashes, hangs or fails, the caller gets a :class:`ValueError` naming the file, and nothing
else happens to it. The child also flattens the cell arrays into a few flat arrays, which are
quick to pass back (pickling the cells as scipy returns them would cost more than the load).

Costs: starting the child (about 0.3 s: a Python process that imports scipy.io), once per
call, for all the files of the call.

What it does not catch: a corruption that still decodes (a flipped byte inside an uncompressed
number). The WIDER FACE loader checks what it can (the four files agree, indices and labels are
in range); compressed files, like the official ones, carry a zlib checksum that ``loadmat``
verifies.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MatCells", "read_cell_variables"]

#: Seconds a child may take to read the files of one call.
TIMEOUT = 300.0

_LEVEL5 = b"MATLAB 5.0 MAT-file"
_HDF5 = b"MATLAB 7.3 MAT-file"


@dataclass(frozen=True, eq=False)
class MatCells:
    """One cell-array variable of a ``.mat`` file, flattened.

    A variable is a cell array (any shape, read in MATLAB's column-major order) whose cells
    hold arrays (``leaves``) or cell arrays of arrays (one level of nesting, as WIDER FACE's
    ``file_list{event}{image}``).

    Attributes
    ----------
    counts : ndarray of shape (C,), int64, or None
        For a nested variable, the number of leaves in each of its ``C`` cells; None when the
        cells hold the leaves directly.
    strings : list of str or None
        The leaves when they are char arrays (one string each).
    data : ndarray of shape (D,), float64, or None
        The numeric leaves, each flattened row by row, one after the other.
    shapes : ndarray of shape (L, 2), int64, or None
        ``(rows, columns)`` of each numeric leaf.
    classes : tuple of str
        The numpy dtype names of the numeric leaves (e.g. ``("int32",)``), sorted.
    """

    counts: np.ndarray | None
    strings: list[str] | None
    data: np.ndarray | None
    shapes: np.ndarray | None
    classes: tuple[str, ...]

    @property
    def num_leaves(self) -> int:
        """Number of leaves (strings or arrays)."""
        return len(self.strings) if self.strings is not None else int(self.shapes.shape[0])


def read_cell_variables(
    requests: Sequence[tuple[str | os.PathLike, Sequence[str]]],
) -> list[dict[str, MatCells]]:
    """Read cell-array variables of several ``.mat`` files in one child process.

    Parameters
    ----------
    requests : sequence of (path, names)
        Each file and the variables wanted from it; a variable the file lacks is left out of
        the result (the caller decides whether it was required).

    Returns
    -------
    list of dict of str to MatCells
        One dict per request, in order.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a file is not a level-5 MAT-file, cannot be read (its name and the reader's message),
        makes the reader crash or hang, or a requested variable is not a cell array of arrays
        or of cell arrays of arrays.

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> from scipy.io import savemat
    >>> p = os.path.join(tempfile.mkdtemp(), "a.mat")
    >>> cells = np.empty((2, 1), dtype=object)
    >>> cells[0, 0], cells[1, 0] = np.array([["ab"]]), np.array([["c"]])
    >>> savemat(p, {"names": cells})
    >>> read_cell_variables([(p, ["names", "other"])])[0]["names"].strings
    ['ab', 'c']
    """
    paths = [os.fspath(p) for p, _ in requests]
    for p in paths:
        if not os.path.isfile(p):
            if os.path.exists(p):
                raise ValueError(f"{p}: not a regular file")
            raise FileNotFoundError(f"file not found: {p}")
        _check_header(p)
    job = [(p, list(names)) for p, (_, names) in zip(paths, requests, strict=True)]
    code = (
        "import sys; sys.path.pop(0); import runpy; "
        "runpy.run_path(sys.argv[1], run_name='__main__')"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, os.path.abspath(__file__)],
            input=pickle.dumps(job),
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        current = _current_file(exc.stderr or b"", paths)
        raise ValueError(
            f"{current}: reading it took more than {TIMEOUT:.0f} s; the file is corrupt"
        ) from None
    current = _current_file(proc.stderr, paths)
    if proc.returncode != 0:
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"status {proc.returncode}"
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        detail = f": {tail[0]}" if tail and proc.returncode > 0 else ""
        raise ValueError(
            f"{current}: the MAT-file reader died on it ({how}{detail}); the file is corrupt "
            "or not a MATLAB file"
        )
    try:
        reply = pickle.loads(proc.stdout)
    except Exception:  # a child that printed something else: never expected
        raise ValueError(f"{current}: the MAT-file reader returned no result") from None
    if "error" in reply:
        index, message = reply["error"]
        raise ValueError(f"{paths[index]}: cannot read it as a MATLAB file ({message})")
    return [{n: MatCells(**fields) for n, fields in r.items()} for r in reply["ok"]]


def _check_header(path: str) -> None:
    with open(path, "rb") as fh:
        head = fh.read(128)
    if head.startswith(_HDF5):
        raise ValueError(
            f"{path}: a MATLAB v7.3 (HDF5) file; save it with -v7 (level 5), as the official "
            "WIDER FACE files are"
        )
    if len(head) < 128 or not head.startswith(_LEVEL5):
        raise ValueError(f"{path}: not a MATLAB level-5 MAT-file (no 'MATLAB 5.0' header)")


def _current_file(stderr: bytes, paths: list[str]) -> str:
    """The file the child announced last (it prints ``reading <index>`` before each)."""
    index = 0
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.startswith("hambox-mat: reading "):
            try:
                index = int(line.split()[-1])
            except ValueError:
                pass
    return paths[min(max(index, 0), len(paths) - 1)] if paths else "?"


# --------------------------------------------------------------------------------------------
# the child
# --------------------------------------------------------------------------------------------


def _flatten(value, name: str) -> dict:
    """The fields of a :class:`MatCells` (plain objects: the child runs as ``__main__``)."""
    if not isinstance(value, np.ndarray) or value.dtype != object:
        raise ValueError(f"variable {name} is not a cell array")
    cells = list(value.reshape(-1, order="F"))
    nested = bool(cells) and all(isinstance(c, np.ndarray) and c.dtype == object for c in cells)
    counts = None
    if nested:
        counts = np.array([c.size for c in cells], dtype=np.int64)
        leaves = [leaf for c in cells for leaf in c.reshape(-1, order="F")]
    else:
        leaves = cells
    out = {"counts": counts, "strings": None, "data": None, "shapes": None, "classes": ()}
    if leaves and all(isinstance(x, np.ndarray) and x.dtype.kind == "U" for x in leaves):
        strings = []
        for x in leaves:
            if x.size > 1:
                raise ValueError(f"variable {name}: a char cell holds {x.size} rows")
            strings.append(str(x.reshape(-1)[0]) if x.size else "")
        out["strings"] = strings
        return out
    classes = set()
    for x in leaves:
        if not isinstance(x, np.ndarray) or x.dtype.kind not in "iufb" or x.ndim != 2:
            what = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"variable {name}: a cell holds {what}, not a numeric matrix")
        classes.add(x.dtype.name)
    out["shapes"] = np.array([x.shape for x in leaves], dtype=np.int64).reshape(-1, 2)
    out["data"] = (
        np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1) for x in leaves])
        if leaves
        else np.zeros(0, np.float64)
    )
    out["classes"] = tuple(sorted(classes))
    return out


def _child_main() -> None:
    from scipy.io import loadmat

    job = pickle.loads(sys.stdin.buffer.read())
    out = []
    for index, (path, names) in enumerate(job):
        print(f"hambox-mat: reading {index}", file=sys.stderr, flush=True)
        try:
            data = loadmat(path, variable_names=names)
            out.append({n: _flatten(data[n], n) for n in names if n in data})
        except Exception as exc:  # every reader failure becomes the parent's ValueError
            message = f"{type(exc).__name__}: {exc}"
            sys.stdout.buffer.write(pickle.dumps({"error": (index, message)}))
            return
    sys.stdout.buffer.write(pickle.dumps({"ok": out}))


if __name__ == "__main__":
    _child_main()
