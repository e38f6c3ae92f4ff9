"""Line-oriented parsing helpers shared by every annotation and prediction reader.

Every reader in :mod:`hambox_core.datasets` and :mod:`hambox_core.evaluation` reports bad input
the same way: a :class:`ValueError` whose message starts with ``"<file>, line <n>: "`` (1-based
line numbers, counted on ``\\n`` like an editor does), so that a user can open the file at the
offending line. Files are read as UTF-8 (a leading byte-order mark is tolerated); Windows line
endings and trailing whitespace are accepted everywhere.

Numbers are plain ASCII decimal text, the syntax the C and MATLAB tools read: an optional sign,
digits with an optional decimal point, an optional exponent (``12``, ``-3.5``, ``.5``, ``1e-3``).
Python's wider syntax (``1_0``, Arabic-Indic or full-width digits, ``nan``, ``inf``) is
rejected, and so is a value that does not fit in float32 (``|v| >= 2**128 - 2**103``, which
rounds to infinity in float32), because the tools store values in single precision or compare
them there.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

__all__ = [
    "FLOAT32_OVERFLOW",
    "LineReader",
    "detection_rows",
    "fail",
    "format_float32",
    "format_number",
    "is_number",
    "parse_count",
    "parse_floats",
    "parse_ints",
    "read_text_lines",
]

_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.ASCII | re.IGNORECASE)
#: The smallest magnitude that rounds to infinity in float32 (halfway above the largest float32).
FLOAT32_OVERFLOW = float.fromhex("0x1.ffffffp+127")


def fail(path: str, lineno: int, message: str) -> ValueError:
    """The :class:`ValueError` every reader raises: ``"<path>, line <lineno>: <message>"``."""
    return ValueError(f"{path}, line {lineno}: {message}")


def read_text_lines(path) -> tuple[str, list[str]]:
    """Read a UTF-8 text file and return ``(path_as_str, lines)``.

    Lines are split on ``"\\n"`` only (a trailing ``"\\r"`` stays and counts as whitespace), so
    that line numbers in error messages match what an editor shows.

    Raises
    ------
    ValueError
        If the file is not valid UTF-8 (the message names the file and the line).
    """
    try:
        p = os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}") from None
    with open(p, "rb") as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise fail(p, line, "not valid UTF-8 text") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return p, lines


def is_number(token: str) -> bool:
    """True if ``token`` parses as a float (``nan`` and ``inf`` included)."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_ints(path: str, lineno: int, tokens: list[str], what: str) -> list[int]:
    """Parse every token as a plain decimal integer, or raise naming the file, line and token."""
    out = []
    for tok in tokens:
        if not _INT.fullmatch(tok):
            raise fail(path, lineno, f"{what}: {tok!r} is not an integer")
        out.append(int(tok))
    return out


def parse_floats(path: str, lineno: int, tokens: list[str], what: str) -> list[float]:
    """Parse every token as a plain decimal number that fits in float32, or raise naming the
    file, line and token (see the module docstring for the syntax)."""
    out = []
    for tok in tokens:
        if not _FLOAT.fullmatch(tok):
            if _NONFINITE.fullmatch(tok):
                raise fail(path, lineno, f"{what}: {tok!r} is not finite")
            raise fail(
                path, lineno, f"{what}: {tok!r} is not a number (plain decimal syntax expected)"
            )
        v = float(tok)
        if not abs(v) < FLOAT32_OVERFLOW:
            raise fail(path, lineno, f"{what}: {tok!r} overflows float32 (|v| > 3.4e38)")
        out.append(v)
    return out


def parse_count(path: str, lineno: int, line: str, what: str = "face count") -> int:
    """Parse a count line: one integer >= 0 (an integral float such as ``"3.0"`` is accepted)."""
    tokens = line.split()
    if len(tokens) != 1:
        raise fail(path, lineno, f"expected the {what} (one integer), got {line.strip()!r}")
    tok = tokens[0]
    if _INT.fullmatch(tok):
        value = int(tok)
    else:
        f = float(tok) if _FLOAT.fullmatch(tok) else math.nan
        if not (math.isfinite(f) and f == int(f)):
            raise fail(path, lineno, f"{what} {tok!r} is not an integer")
        value = int(f)
    if value >= 2**31:
        raise fail(path, lineno, f"{what} {tok!r} is not an integer below 2**31")
    if value < 0:
        raise fail(path, lineno, f"{what} {tok!r} is negative")
    return value


def finite_matrix(value, width: int, what: str) -> np.ndarray:
    """``value`` as a finite float64 ``(N, width)`` array; an empty input becomes ``(0, width)``.

    Raises :class:`ValueError` starting with ``what`` for another shape or a non-finite value.
    """
    a = np.asarray(value, dtype=np.float64)
    if a.size == 0:
        a = a.reshape(0, width)
    if a.ndim != 2 or a.shape[1] != width:
        raise ValueError(f"{what} must have shape (N, {width}), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} must be finite")
    return a


def detection_rows(name, arr, width: int = 5) -> list[list[float]]:
    """Rows of one image's ``(N, width)`` detections for writing, after checking name and values."""
    if not isinstance(name, str) or not name or len(name.split()) != 1:
        raise ValueError(f"image name {name!r} must be one token without whitespace")
    flat = np.asarray(arr, dtype=np.float64)
    if flat.size == 0:
        flat = flat.reshape(0, width)
    if flat.ndim == 1 and flat.shape[0] % width == 0:
        flat = flat.reshape(-1, width)
    return finite_matrix(flat, width, f"detections of {name!r}").tolist()


def format_number(value: float) -> str:
    """Shortest text that reads back to exactly ``value``: an integer when integral."""
    v = float(value)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def format_float32(value) -> str:
    """Shortest text that reads back (as float64, then rounded to float32) to ``value``.

    ``value`` is a float32; the shortest float32 representation is used when reading it as a
    float64 and rounding to float32 gives it back (nearly always), else the exact float64 text.
    """
    f = np.float32(value)
    if float(f).is_integer() and abs(float(f)) < 1e7:
        return str(int(f))
    short = np.format_float_positional(f, unique=True, trim="0")
    if np.float32(float(short)) == f:
        return short
    return repr(float(f))


class LineReader:
    """A cursor over a file's lines that skips blank lines and remembers line numbers.

    ``next()`` returns ``(lineno, line)`` of the next non-blank line or ``None`` at the end;
    ``peek()`` does the same without consuming it.
    """

    def __init__(self, path: str, lines: list[str]):
        self.path = path
        self.lines = lines
        self.pos = 0

    def _skip_blank(self) -> None:
        while self.pos < len(self.lines) and not self.lines[self.pos].strip():
            self.pos += 1

    def peek(self) -> tuple[int, str] | None:
        self._skip_blank()
        if self.pos >= len(self.lines):
            return None
        return self.pos + 1, self.lines[self.pos]

    def next(self) -> tuple[int, str] | None:
        item = self.peek()
        if item is not None:
            self.pos += 1
        return item

    def expect(self, what: str) -> tuple[int, str]:
        """The next non-blank line, or a ValueError saying the file ended while ``what`` was due."""
        item = self.next()
        if item is None:
            last = len(self.lines) + 1 if self.lines else 1
            raise fail(self.path, last, f"file ends where {what} was expected")
        return item
