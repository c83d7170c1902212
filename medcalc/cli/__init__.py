"""The ``medcalc`` command line: quote one claim, score a file, and policy tools.

Exit codes: 0 ok, 2 bad input or policy, 1 internal error. Errors are one line on
stderr naming what was wrong and what is allowed. Every output command shares the
same output options (``--json``, ``--width``).

This package holds one module per command group, each adding its subparser(s) and holding
its handler(s): ``quote``, ``score``, ``analysis`` (impact, simulate), ``reconcile``, ``policy``
(list, show, check, diff) and ``plot``; ``serve`` is ``medcalc.serve.command``. What they share
is ``options``. This module assembles the parser from them, in the order ``--help`` lists the
commands, and runs one: the dispatch, the --policies folders, warnings, and errors as exit
codes. Imports run one way only: this module -> the command modules -> ``options``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Arrow's allocator (mimalloc) returns freed memory to the system at once rather than after a
# delay: a command holding a file of millions of rows then peaks at its live data (10^7 rows
# in one piece: 1.8 -> 1.4 GB, no slower). Read when Arrow loads, so set before anything
# imports pyarrow; a value set in the environment wins.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")

from ..errors import MedcalcError, UnitNotStated
from ..policy.registry import POLICIES_VARIABLE
from ..report.terminal import printable
from . import analysis, plot, policy, quote, reconcile, score
from .options import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, _output_options, _Parser, _policy_options, policies_option

__all__ = ["main"]


class _Version(argparse.Action):
    """--version: the installed package's version, read from its metadata only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help="show medcalc's version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from .. import __version__

        print(f"medcalc {__version__}")  # on stdout, as argparse's own version action prints
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="medcalc", description="What China's basic medical insurance pays on a claim, exact to the fen."
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    output, policy_choice = _output_options(), _policy_options()
    # each command module adds its subparser(s) and sets ``run``, its handler; in this order --help lists them
    quote.add_command(sub, policy_choice, output)
    score.add_command(sub, policy_choice, output)
    analysis.add_commands(sub, output)
    reconcile.add_command(sub, policy_choice, output)
    policy.add_commands(sub, output)
    plot.add_command(sub)
    from ..serve.command import add_serve_command

    policies_option(add_serve_command(sub))  # `medcalc serve`: FastAPI and uvicorn load only when it runs
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (a skipped policy file names itself), not Python's two."""
    print(printable(f"medcalc: warning: {message}"), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import warnings

    shown, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        return _run(args)
    finally:
        warnings.showwarning = shown


@contextlib.contextmanager
def _policy_folders(folders: Sequence[str]):
    """The --policies folders, put before those of MEDCALC_POLICIES for this command.

    Through the variable rather than a ``search=`` on each call, so that every lookup the
    command makes sees them: each row's region, reforms and bases, and the worker processes
    of ``score --dask local:N`` (which inherit the environment).
    """
    if not folders:
        yield
        return
    for folder in folders:
        if not Path(folder).is_dir():
            raise MedcalcError(
                f"--policies {folder}: " + ("not a folder" if Path(folder).exists() else "no such folder")
            )
    before = os.environ.get(POLICIES_VARIABLE)
    own = [str(Path(folder).absolute()) for folder in folders]  # a worker may start in another folder
    os.environ[POLICIES_VARIABLE] = os.pathsep.join(own + ([before] if before else []))
    try:
        yield
    finally:
        if before is None:
            del os.environ[POLICIES_VARIABLE]
        else:
            os.environ[POLICIES_VARIABLE] = before


def _run(args: argparse.Namespace) -> int:
    try:
        with _policy_folders(getattr(args, "policies", None) or ()):
            return _command(args)
    except UnitNotStated as exc:  # said with the option that states the unit
        print(printable(f"medcalc: error: {exc.command_line}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except MedcalcError as exc:
        print(printable(f"medcalc: error: {exc}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader went away (`medcalc policy list | head`): not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # an internal error: still one line, but a distinct exit code
        print(printable(f"medcalc: internal error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_INTERNAL


def _command(args: argparse.Namespace) -> int:
    return args.run(args)  # the handler its command module set (set_defaults(run=...))
