"""The ``hambox`` command: ``train``, ``eval``, ``detect``, ``export``, ``anchors``, ``analyze``.

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to a ``run(args) -> int``. Modules import torch and the
detector only inside ``run``, so ``hambox --help`` stays fast.

Exit status: 0 on success; 2 on bad input (a missing or unreadable file, a foreign checkpoint,
a malformed config, a bad argument value, an unknown option), with one line ``hambox <command>:
error: ...`` on standard error instead of a traceback (after the command's usage for an option
argparse rejects); 130 when interrupted. Warnings of hambox itself (a skipped checkpoint, a
scaled schedule, an unreadable image) are one line each, ``hambox <command>: warning: ...``.
Output paths are checked before the work that writes them starts. Every command that shows a
progress bar takes ``--no-progress``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

__all__ = [
    "CommandError",
    "add_no_progress",
    "build_parser",
    "data_root",
    "device",
    "main",
    "output_path",
]

#: Subcommand modules, in the order ``hambox --help`` lists them.
COMMANDS = ("train", "evaluate", "detect", "export", "anchors", "analyze", "embedded")


class CommandError(Exception):
    """Bad input a subcommand reports in one line (exit status 2)."""


def data_root(arg, option: str = "--data"):
    """The WIDER-format root a command reads: ``arg``, or the embedded demo set when ``None``
    (:func:`hambox_torch.recipe.resolve_data_root`, never generating it).

    Raises
    ------
    CommandError
        If ``arg`` is not a folder, or (``arg`` is ``None``) the embedded set was never
        generated; the message says how to generate it.
    """
    from hambox_torch.recipe.data_root import resolve_data_root

    try:
        return resolve_data_root(arg, option=option)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def device(arg, option: str = "--device"):
    """The torch device named by ``arg`` (``"auto"``: CUDA when available), or a
    :class:`CommandError` naming ``option`` (:func:`hambox_torch.recipe.resolve_device`)."""
    from hambox_torch.recipe.devices import resolve_device

    try:
        return resolve_device(arg)
    except ValueError as exc:
        raise CommandError(f"{option}: {exc}") from None


def output_path(arg, option: str, *, folder: bool = False):
    """``arg`` as a path that can be written, checked before any long work
    (:func:`hambox_torch.recipe.output_paths.check_output_path`), or a :class:`CommandError`
    naming ``option``; ``None`` stays ``None``."""
    if arg is None:
        return None
    from hambox_torch.recipe.output_paths import check_output_path

    try:
        return check_output_path(arg, option=option, folder=folder)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """The ``--no-progress`` option every command with a progress bar takes."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _expected_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [CommandError, ValueError, FileNotFoundError, OSError]
    try:
        from hambox_torch.recipe.checkpoint import CheckpointError

        errors.append(CheckpointError)
    except ImportError:  # pragma: no cover - torch missing: nothing to add
        pass
    return tuple(errors)


def build_parser() -> argparse.ArgumentParser:
    """The whole ``hambox`` argument parser (every subcommand registered)."""
    parser = argparse.ArgumentParser(
        prog="hambox",
        description=(
            "HAMBox face detection: train the detector, evaluate it under the WIDER FACE "
            "protocols, detect faces, export to ONNX, and the paper's anchor analyses "
            "(Fig. 1: `anchors`, Fig. 2: `analyze`)."
        ),
        epilog="Run `hambox COMMAND --help` for each command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hambox``; returns the exit status.

    Examples
    --------
    >>> main(["anchors", "--gt", "/nonexistent/folder"])  # one line on stderr
    2
    """
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # An option the subcommand does not know: its own usage and "hambox CMD: error:".
        _subparser(parser, args.command).error(f"unrecognized arguments: {' '.join(unknown)}")
    prefix = f"hambox {args.command}"

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prefix}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        # hambox's own warnings are part of the output, one line each.
        warnings.filterwarnings("default", category=UserWarning, module=r"hambox_(torch|core)")
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted", file=sys.stderr)
            return 130
        except _expected_errors() as exc:
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
