"""Bad input to every public operation of both packages: a named ValueError or TypeError.

The operations are enumerated from the ``__all__`` of the modules in
:data:`bad_input_specs.CORE_MODULES` and :data:`~bad_input_specs.TORCH_MODULES`; each has a
spec (valid arguments and their kinds) in ``tests/bad_input_specs.py`` or a reason not to be
called with bad input, and a new public name without either fails
:func:`test_every_public_callable_has_a_spec`. For each spec, one argument at a time is
mutated — NaN, inf, ``x1 < x0``, wrong shape, rank or dtype, empty, non-contiguous, read-only,
None, a list or a numpy array for a tensor, another device, huge counts, missing paths — and
the call must raise ``ValueError`` / ``TypeError`` naming the argument (bad input) or return
what the valid call returns (a valid variant), never crash elsewhere, modify an input or run
past :data:`~bad_input_specs.DEADLINE_S`.

:func:`test_every_mutation_once` runs every mutation with fixed choices (what
``bench/bad_input_probe.py`` counts); :func:`test_generated_bad_input` lets hypothesis choose
the mutation and where it lands (row, coordinate).
"""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import signal
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import bad_input_specs as B
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

HAVE_TORCH = importlib.util.find_spec("torch") is not None

_TMP = Path(tempfile.mkdtemp(prefix="hambox_bad_input_"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
TABLE = B.specs(_TMP, with_torch=HAVE_TORCH)
NAMES = sorted(TABLE)
_REFERENCES: dict = {}


class _Hang(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """Turn a call that runs far past the deadline into a failure instead of a hung suite."""

    def on_alarm(signum, frame):
        raise _Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _valid(spec):
    return {k: a.make(_TMP) for k, a in spec.args.items()}


def _reference(name):
    if name not in _REFERENCES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _REFERENCES[name] = TABLE[name].run(_valid(TABLE[name]))
    return _REFERENCES[name]


def _judge(name, arg, mutation, chooser):
    spec = TABLE[name]
    kwargs = _valid(spec)
    kwargs[arg] = mutation.apply(kwargs[arg], chooser)
    reference = _reference(name)
    with warnings.catch_warnings(), _time_limit(6 * B.DEADLINE_S):
        warnings.simplefilter("ignore")
        try:
            return B.classify(spec, arg, mutation, kwargs, reference)
        except _Hang as exc:
            return B.Outcome("slow", str(exc))


def test_every_public_callable_has_a_spec():
    modules = B.CORE_MODULES + (B.TORCH_MODULES if HAVE_TORCH else ())
    public = B.public_callables(modules)
    missing = sorted(set(public) - set(TABLE) - set(B.NOT_OPERATIONS))
    assert not missing, (
        f"public callables without a bad-input spec (tests/bad_input_specs.py): {missing}"
    )
    if HAVE_TORCH:
        stale = sorted((set(TABLE) | set(B.NOT_OPERATIONS)) - set(public))
        assert not stale, f"specs or reasons for names that are not public: {stale}"


def test_the_suite_sees_a_silent_case():
    """The judge is not blind: a function that accepts NaN boxes is reported."""
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 25]], np.float32)
    spec = B.Spec(lambda boxes: boxes.sum(), {"boxes": B.Arg("boxes", lambda tmp: boxes.copy())})
    nan = next(m for m in B.mutations("boxes") if m.label == "NaN")
    kwargs = {"boxes": nan.apply(boxes, B.FIRST)}
    assert B.classify(spec, "boxes", nan, kwargs, None).status == "silent"
    crash = B.Spec(lambda boxes: boxes.no_such_attribute, spec.args)
    assert B.classify(crash, "boxes", nan, kwargs, None).status == "crash"

    def mutate(boxes):
        boxes[0, 0] = 7.0
        raise ValueError("boxes are bad")

    arr = boxes.copy()
    mutating = B.Spec(mutate, spec.args)
    assert B.classify(mutating, "boxes", nan, {"boxes": arr}, None).status == "mutated"


@pytest.mark.parametrize("name", NAMES)
def test_every_mutation_once(name):
    spec = TABLE[name]
    failures, fixed = [], []
    for arg in spec.args:
        for mutation in B.arg_mutations(spec, arg):
            outcome = _judge(name, arg, mutation, B.FIRST)
            known = (name, arg, mutation.label) in B.KNOWN_GAPS
            if outcome.status != "ok" and not known:
                failures.append(f"{arg}={mutation.label}: {outcome.status} {outcome.detail}")
            elif outcome.status == "ok" and known:
                fixed.append(f"{arg}={mutation.label}")
    assert not failures, "\n".join(failures)
    assert not fixed, f"fixed: remove from bad_input_specs.KNOWN_GAPS: {fixed}"


def test_known_gaps_are_real_mutations():
    for name, arg, label in B.KNOWN_GAPS:
        assert label in [m.label for m in B.arg_mutations(TABLE[name], arg)], (name, arg, label)


class _Drawn:
    """Hypothesis chooses where a mutation lands."""

    def __init__(self, data):
        self.data = data

    def index(self, n: int) -> int:
        return self.data.draw(st.integers(0, n - 1)) if n > 1 else 0

    def sample(self, options):
        return self.data.draw(st.sampled_from(options))


_MUTABLE = {
    name: [
        (arg, m)
        for arg in spec.args
        for m in B.arg_mutations(spec, arg)
        if (name, arg, m.label) not in B.KNOWN_GAPS
    ]
    for name, spec in TABLE.items()
}


@pytest.mark.parametrize("name", [n for n in NAMES if _MUTABLE[n]])
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_generated_bad_input(name, data):
    arg, mutation = data.draw(st.sampled_from(_MUTABLE[name]), label="mutation")
    outcome = _judge(name, arg, mutation, _Drawn(data))
    assert outcome.status == "ok", f"{arg}={mutation.label}: {outcome.status} {outcome.detail}"
