"""Test-session setup: hypothesis profiles and one warm-up of every numba kernel.

``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) selects a derandomized profile with a bounded
number of examples; the default profile is for local runs. Neither has a deadline: the first
call of a numba kernel compiles it, which is latency, not slowness of the code under test.
"""

from __future__ import annotations

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The cross-backend suite needs the torch extra; without it (a core-only install) it is not
# collected at all rather than failing on import.
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob = ["conformance/*", "ddp_worker.py"]


@pytest.fixture(scope="session", autouse=True)
def _warm_numba_kernels():
    """Compile (or load from cache) every numba kernel once, before any test is timed."""
    from hambox_core._warmup import warm_up

    warm_up()


@pytest.fixture(scope="session")
def tiny_wider_root(tmp_path_factory):
    """A 1-train / 3-val-image embedded WIDER-format set (96-160 px), generated once."""
    pytest.importorskip("torch")
    from hambox_torch.data.embedded import generate_embedded

    return generate_embedded(
        tmp_path_factory.mktemp("tiny_wider"),
        num_train=1,
        num_val=3,
        image_size=((96, 128), (96, 160)),
        progress=False,
    )
