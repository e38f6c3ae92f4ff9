"""Gerkey's Hungarian solver, exactly as the FDDB ``evaluate`` program runs it.

The FDDB evaluation matches faces and detections with ``libhungarian`` by Brian Gerkey (2003,
"C Implementation of Kuhn's Hungarian Method", GPL; files ``Hungarian.cpp`` /
``Hungarian.hpp`` of the FDDB ``evaluation`` program, which changed the ratings from ``int`` to
``double``, added the tolerance ``HUNGARIAN_EPS = 1e-15`` and fixed one test in Routine II).
This module is an independent implementation of the same algorithm that makes the same
choices in the same order, so that it returns the same assignment as the original, including
where the original is not optimal. What the algorithm does, in maximisation mode, on an
``(m, n)`` rating matrix ``r`` with ``m <= n``:

* **Cover.** ``u`` (rows) and ``v`` (columns) start as the row maxima (clamped below at 0) if
  their sum is at most the sum of the column maxima, else ``v`` is the column maxima; the other
  vector is 0. Cells with ``|u[i] + v[j] - r[i, j]| < 1e-15`` are marked *1*.
* **Initial stars.** Row by row (when the row maxima were chosen; else column by column), the
  first *1* whose column (row) holds no star becomes a star.
* **Routine I** scans the columns without a star, in order; in each, the rows holding a *1*,
  in order. From such a *1* it grows an alternating sequence: the star in the row of the last
  *1* (the first one, scanning the row), then a *1* in that star's column in a row not yet in
  the sequence (the first one, scanning down). A row of the last *1* without a star ends the
  sequence: every cell of it is toggled (*1* <-> star) and Routine I starts again. A star
  column without a usable *1* makes the last row *essential*; the search backs up and goes on
  below that row. When every column is scanned, the columns with a star in an inessential row
  are *essential*, and Routine II follows.
* **Routine II** takes ``d``, the reduced cost ``u[i] + v[j] - r[i, j]`` over inessential
  rows and columns, with the original's rule: scanning row-major, ``d`` is replaced by each
  value while it is (within 1e-15 of) zero, else by a smaller non-negative value. **If ``d`` is
  zero the solver stops**, whether or not every row is assigned: this is the early exit that
  makes the original return non-optimal matchings on non-square matrices (for example
  ``[[0.5146, 0.2218, 0.1153], [0.6179, 0.235, 0.0681]]`` gets columns ``(2, 0)``, total
  0.7332, where ``(1, 0)`` gives 0.8397). Otherwise the cover moves by
  ``min(d, v[j] over inessential columns)`` when an inessential row has ``u[i] == 0``, else by
  ``min(d, u[i] over inessential rows)``; the marks are rebuilt (a star whose cell is no
  longer tight is dropped) and Routine I runs again.

The assignment of row ``i`` is the first starred column of that row. Where the original stops
with an assertion (a reduced cost below ``-1e-15``), :class:`HungarianError` is raised.

Every floating-point operation is done in the original's order in float64 (numba without
fastmath), so ties and the 1e-15 tolerance resolve as in the C code; this is checked against the
compiled original on random matrices with many ties (``tests/fixtures/fddb_hungarian``).
"""

from __future__ import annotations

import numpy as np

from .._numba import njit

__all__ = ["HungarianError", "gerkey_assignment", "is_feasible"]

EPS = 1e-15  # HUNGARIAN_EPS of the original
_ZERO, _ONE, _STAR = 0, 1, 2  # the marks of the Q matrix
_ROUTINE_ONE, _ROUTINE_TWO, _DONE = 1, 2, 3

#: Status codes of the kernel (0: solved).
STATUS_OK = 0
STATUS_NEGATIVE_REDUCED_COST = 1  # the original's "SUPERMOO" assertions
STATUS_NEGATIVE_STEP = 2  # the original's "MOO" assertion
STATUS_NO_PROGRESS = 3  # more Routine II rounds than any valid run needs (the original hangs)

MESSAGES = {
    STATUS_NEGATIVE_REDUCED_COST: "a reduced cost fell below -1e-15 (the original asserts)",
    STATUS_NEGATIVE_STEP: "the cover step is negative (the original asserts)",
    STATUS_NO_PROGRESS: "the solver made no progress (the original would not terminate)",
}


class HungarianError(ValueError):
    """Raised where the original solver stops with an assertion (or would not terminate)."""


@njit
def _make_cover(r, u, v):
    """Initial cover: row maxima or column maxima (clamped at 0), whichever sums lower.

    Returns True when the rows were chosen (``row_total <= col_total``)."""
    m, n = r.shape
    row_total = 0.0
    for i in range(m):
        best = 0.0
        for j in range(n):
            if r[i, j] > best:
                best = r[i, j]
        u[i] = best
        row_total += best
    col_total = 0.0
    for j in range(n):
        best = 0.0
        for i in range(m):
            if r[i, j] > best:
                best = r[i, j]
        v[j] = best
        col_total += best
    rows_chosen = row_total <= col_total
    if rows_chosen:
        v[:] = 0.0
    else:
        u[:] = 0.0
    return rows_chosen


@njit
def _mark_tight(r, u, v, q):
    """Mark every tight cell 1 (stars stay), every other cell 0 (stars there are dropped)."""
    m, n = r.shape
    for i in range(m):
        for j in range(n):
            if abs(u[i] + v[j] - r[i, j]) < EPS:
                if q[i, j] == _ZERO:
                    q[i, j] = _ONE
            else:
                q[i, j] = _ZERO


@njit
def _initial_stars(q, by_rows):
    m, n = q.shape
    if by_rows:
        for i in range(m):
            for j in range(n):
                if q[i, j] == _ONE and not _other_star_in_column(q, i, j):
                    q[i, j] = _STAR
                    break
    else:
        for j in range(n):
            for i in range(m):
                if q[i, j] == _ONE and not _other_star_in_row(q, i, j):
                    q[i, j] = _STAR
                    break


@njit
def _other_star_in_column(q, i, j):
    for k in range(q.shape[0]):
        if k != i and q[k, j] == _STAR:
            return True
    return False


@njit
def _other_star_in_row(q, i, j):
    for k in range(q.shape[1]):
        if k != j and q[i, k] == _STAR:
            return True
    return False


@njit
def _star_in_row(q, i):
    """Column of the first star in row ``i``, or -1."""
    for j in range(q.shape[1]):
        if q[i, j] == _STAR:
            return j
    return -1


@njit
def _column_has_star(q, j):
    for i in range(q.shape[0]):
        if q[i, j] == _STAR:
            return True
    return False


@njit
def _one_in_new_row(q, j, start, seq_i, k):
    """First row ``>= start`` with a 1 in column ``j`` and not in the sequence; m if none."""
    m = q.shape[0]
    i = start
    while i < m:
        if q[i, j] == _ONE:
            seen = False
            for t in range(k):
                if seq_i[t] == i:
                    seen = True
                    break
            if not seen:
                return i
        i += 1
    return m


@njit
def _routine_one(q, seq_i, seq_j, ess_rows, ess_cols):
    """Kuhn's Routine I: augment along an alternating sequence, or find the essential lines."""
    m, n = q.shape
    ess_rows[:] = 0
    j = 0
    while j < n:
        if _column_has_star(q, j):
            j += 1
            continue
        i = 0
        while i < m:
            if q[i, j] != _ONE:
                i += 1
                continue
            # a 1 at (i, j) in a column without a star: grow an alternating sequence from it
            seq_i[0] = i
            seq_j[0] = j
            k = 1
            while True:
                star = _star_in_row(q, i)
                if star < 0:
                    # the last 1's row has no star: toggle the whole sequence and start over
                    for t in range(k):
                        c = q[seq_i[t], seq_j[t]]
                        q[seq_i[t], seq_j[t]] = _STAR if c == _ONE else _ONE
                    return _ROUTINE_ONE
                j = star
                i = 0
                extended = False
                while True:
                    i = _one_in_new_row(q, j, i, seq_i, k)
                    if i < m:
                        seq_i[k] = seq_i[k - 1]
                        seq_j[k] = j
                        seq_i[k + 1] = i
                        seq_j[k + 1] = j
                        k += 2
                        extended = True
                        break
                    # no usable 1 in the star's column: the last 1's row is essential; back up
                    # and search on below that row, in the column where that 1 was found
                    ess_rows[seq_i[k - 1]] = 1
                    j = seq_j[k - 1]
                    i = seq_i[k - 1] + 1
                    if k > 1:
                        k -= 2
                        continue
                    k = 0
                    break
                if not extended:
                    break  # back to the search for a 1 in column j, from row i
        j += 1
    for jj in range(n):
        ess_cols[jj] = 0
        for ii in range(m):
            if q[ii, jj] == _STAR and not ess_rows[ii]:
                ess_cols[jj] = 1
                break
    return _ROUTINE_TWO


@njit
def _routine_two(r, u, v, q, ess_rows, ess_cols):
    """Kuhn's Routine II: move the cover; returns (next routine, status)."""
    m, n = r.shape
    d = 0.0
    for i in range(m):
        if ess_rows[i]:
            continue
        for j in range(n):
            if ess_cols[j]:
                continue
            dtmp = u[i] + v[j] - r[i, j]
            if dtmp < -EPS:
                return _DONE, STATUS_NEGATIVE_REDUCED_COST
            # the original's rule, kept as is: a (near-)zero d is always replaced
            if abs(d) < EPS or (dtmp > -EPS and dtmp < d):
                d = dtmp
    if d < -EPS:
        return _DONE, STATUS_NEGATIVE_STEP
    if abs(d) < EPS:
        return _DONE, STATUS_OK
    zero_row = False
    for i in range(m):
        if not ess_rows[i] and u[i] == 0.0:
            zero_row = True
            break
    step = d
    if zero_row:
        for j in range(n):
            if not ess_cols[j] and v[j] < step:
                step = v[j]
        for i in range(m):
            if ess_rows[i]:
                u[i] += step
        for j in range(n):
            if not ess_cols[j]:
                v[j] -= step
    else:
        for i in range(m):
            if not ess_rows[i] and u[i] < step:
                step = u[i]
        for i in range(m):
            if not ess_rows[i]:
                u[i] -= step
        for j in range(n):
            if ess_cols[j]:
                v[j] += step
    for i in range(m):
        for j in range(n):
            if u[i] + v[j] - r[i, j] < -EPS:
                return _DONE, STATUS_NEGATIVE_REDUCED_COST
    _mark_tight(r, u, v, q)
    return _ROUTINE_ONE, STATUS_OK


@njit
def solve_marks(r, q):
    """Run the solver on ``r`` (m, n), m <= n, writing the final marks into ``q`` (m, n) int8.

    Returns the status (:data:`STATUS_OK` or an error code). Stars are ``q == 2``.
    """
    m, n = r.shape
    q[:, :] = _ZERO
    u = np.zeros(m)
    v = np.zeros(n)
    ess_rows = np.zeros(m, np.int8)
    ess_cols = np.zeros(n, np.int8)
    seq_i = np.zeros(2 * m + 2, np.int64)
    seq_j = np.zeros(2 * m + 2, np.int64)
    by_rows = _make_cover(r, u, v)
    _mark_tight(r, u, v, q)
    _initial_stars(q, by_rows)
    # a valid run needs at most a few Routine II rounds per augmentation
    budget = 64 * (m + 1) * (n + 1) + 1024
    state = _ROUTINE_ONE
    while True:
        if state == _ROUTINE_ONE:
            state = _routine_one(q, seq_i, seq_j, ess_rows, ess_cols)
        else:
            budget -= 1
            if budget < 0:
                return STATUS_NO_PROGRESS
            state, status = _routine_two(r, u, v, q, ess_rows, ess_cols)
            if status != STATUS_OK:
                return status
            if state == _DONE:
                return STATUS_OK


@njit
def assignment_from_marks(q, out):
    """``out[i]``: the first starred column of row ``i``, -1 where the row has no star."""
    m, n = q.shape
    for i in range(m):
        out[i] = -1
        for j in range(n):
            if q[i, j] == _STAR:
                out[i] = j
                break


@njit
def marks_feasible(q):
    """``hungarian_check_feasibility``: at most one star per row and per column, and every row
    (if ``m <= n``) or every column (if ``n <= m``) holds one."""
    m, n = q.shape
    for i in range(m):
        count = 0
        for j in range(n):
            if q[i, j] == _STAR:
                count += 1
        if count > 1 or (m <= n and count == 0):
            return False
    for j in range(n):
        count = 0
        for i in range(m):
            if q[i, j] == _STAR:
                count += 1
        if count > 1 or (n <= m and count == 0):
            return False
    return True


def _weights(weights) -> np.ndarray:
    r = np.asarray(weights)
    if r.dtype == object or not (
        np.issubdtype(r.dtype, np.floating) or np.issubdtype(r.dtype, np.integer)
    ):
        raise ValueError(f"weights must hold real numbers, got dtype {r.dtype}")
    if r.ndim != 2:
        raise ValueError(f"weights must be a 2-d (m, n) matrix, got shape {r.shape}")
    if r.shape[0] > r.shape[1]:
        raise ValueError(
            f"weights must have no more rows than columns (the original asserts m <= n), "
            f"got shape {r.shape}; pass the transpose"
        )
    r = np.ascontiguousarray(r, dtype=np.float64)
    if not np.isfinite(r).all():
        raise ValueError("weights must be finite")
    return r


def gerkey_assignment(weights) -> np.ndarray:
    """Maximum-weight assignment as Gerkey's solver computes it (see the module docstring).

    Parameters
    ----------
    weights : array_like of shape (m, n), m <= n
        Ratings to maximise (float64; FDDB passes overlap ratios in [0, 1]).

    Returns
    -------
    ndarray of shape (m,), int64
        The column assigned to each row, -1 for a row the solver left unassigned (the original
        leaves its ``a[i]`` at 0 then; :func:`is_feasible` is False).

    Raises
    ------
    ValueError
        If ``m > n``, or a weight is not finite.
    HungarianError
        Where the original stops with an assertion.

    Examples
    --------
    The issue's example (3 faces, 2 detections; FDDB passes it transposed, detections as rows):
    the solver stops early at total 0.7332 instead of the optimum 0.8397.

    >>> w = [[0.5146, 0.2218, 0.1153], [0.6179, 0.235, 0.0681]]
    >>> gerkey_assignment(w).tolist()
    [2, 0]
    >>> gerkey_assignment([[1.0, 2.0], [3.0, 5.0]]).tolist()
    [0, 1]
    """
    r = _weights(weights)
    q = np.zeros(r.shape, np.int8)
    status = solve_marks(r, q)
    if status != STATUS_OK:
        raise HungarianError(MESSAGES[status])
    out = np.empty(r.shape[0], np.int64)
    assignment_from_marks(q, out)
    return out


def is_feasible(weights) -> bool:
    """Whether the original's ``hungarian_check_feasibility`` accepts the solver's result.

    Examples
    --------
    >>> is_feasible([[0.5146, 0.2218, 0.1153], [0.6179, 0.235, 0.0681]])
    True
    """
    r = _weights(weights)
    q = np.zeros(r.shape, np.int8)
    status = solve_marks(r, q)
    if status != STATUS_OK:
        raise HungarianError(MESSAGES[status])
    return bool(marks_feasible(q))
