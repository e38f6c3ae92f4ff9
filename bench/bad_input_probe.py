"""Probe: how the public operations of both packages treat a fixed set of bad inputs.

Runs every spec of ``tests/bad_input_specs.py`` once per mutation of each argument (fixed
choices: first row, first coordinate) and counts the outcomes: ``ok`` (a ValueError /
TypeError naming the argument, or the same result for a valid variant), ``silent`` (bad input
accepted), ``crash`` (another exception, e.g. deep inside numba or torch), ``unnamed`` (the
right type, the argument not named), ``different`` (a valid variant changed the result),
``mutated`` (an input was modified) and ``slow``. Not part of ``make test``; the suite
``tests/test_bad_input.py`` asserts the same with generated choices.

Run: ``.venv/bin/python bench/bad_input_probe.py [--verbose] [--only SUBSTRING]``.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import bad_input_specs as B


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every call that is not ok")
    parser.add_argument("--only", default="", help="specs whose name contains this")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    counts = collections.Counter()
    per_package = collections.defaultdict(collections.Counter)
    failures = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        table = B.specs(tmp)
        for name, spec in sorted(table.items()):
            if args.only not in name:
                continue
            valid = {k: a.make(tmp) for k, a in spec.args.items()}
            try:
                reference = spec.run(valid)
            except Exception as exc:
                counts["spec broken"] += 1
                failures.append((name, "-", "valid call", f"{type(exc).__name__}: {exc}"))
                continue
            for arg in spec.args:
                for mutation in B.arg_mutations(spec, arg):
                    kwargs = {k: a.make(tmp) for k, a in spec.args.items()}
                    try:
                        kwargs[arg] = mutation.apply(kwargs[arg], B.FIRST)
                    except Exception as exc:
                        counts["mutation n/a"] += 1
                        if args.verbose:
                            print(f"n/a {name} {arg} {mutation.label}: {exc}")
                        continue
                    outcome = B.classify(spec, arg, mutation, kwargs, reference)
                    counts[outcome.status] += 1
                    per_package[name.split(".")[0]][outcome.status] += 1
                    if outcome.status != "ok":
                        failures.append((name, arg, mutation.label, outcome))
    if args.verbose:
        for name, arg, label, outcome in failures:
            status = getattr(outcome, "status", "broken")
            detail = getattr(outcome, "detail", outcome)
            print(f"{status:9s} {name} {arg}={label}: {detail}")
    print(f"{sum(counts.values())} calls over {len(table)} specs")
    for package, c in sorted(per_package.items()):
        print(f"  {package}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    print("total: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
