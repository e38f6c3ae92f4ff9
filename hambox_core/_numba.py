"""The one place that sets numba options for :mod:`hambox_core`.

* Serial kernels use :data:`NJIT` (``cache=True``): compiled once per machine and loaded from
  the on-disk cache afterwards, so ``import hambox_core`` and first calls stay fast.
* Kernels with ``parallel=True`` must not use ``cache=True`` (cached parallel kernels have
  crashed when the thread count changed); none exist yet.
* No fastmath: NaN and infinity behave as IEEE 754 says, and float32 arithmetic is never
  re-associated or contracted into fused multiply-adds, so kernel results equal the numpy and
  torch reference computations bit for bit.
* ``error_model="numpy"``: float division by zero yields inf/NaN instead of raising; kernels
  guard every division whose denominator can be zero.

Developers, beware: numba checks a cached kernel against its *own* source file only. A kernel
that calls (and so compiles in) kernels of another module keeps their old code after that
module changes, until its cache is deleted (``find hambox_core -name '*.nb[ic]' -delete``) or
``NUMBA_CACHE_DIR`` points elsewhere. Installed copies compile afresh and are not affected.
"""

from __future__ import annotations

import numba

__all__ = ["NJIT", "njit", "njit_inline"]

NJIT = {"cache": True, "nogil": True, "error_model": "numpy"}


def njit(fn):
    """Compile ``fn`` as a serial, cached numba kernel with the project's options."""
    return numba.njit(**NJIT)(fn)


def njit_inline(fn):
    """Like :func:`njit`, but inlined into its callers at numba-IR level.

    For small helpers called once per face inside a kernel: an ordinary call passes its array
    arguments through reference counting on every call, which costs more than the helper.
    """
    return numba.njit(inline="always", **NJIT)(fn)
