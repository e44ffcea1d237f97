"""`spark-ml notebook check PATH...`, `notebook run PATH` and `notebook extract NOTEBOOK --module M`,
wired into spark_ml.cli.

Exit codes: 0 clean (check: no finding at or above --fail-on; run: every cell ran and, with
--compare, the outputs match; extract: written, or printed with --dry-run), 1 findings at or above
the threshold / a failing cell / differing outputs, 2 bad usage (a path that does not exist, a file
that is not a notebook, an unknown rule in the config, a missing kernel; extract: a notebook that
would not run top to bottom, a function that cannot move, an output that exists without --force).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spark_ml.config import Settings
from spark_ml.errors import EXIT_FAILURE, EXIT_OK, ConfigError
from spark_ml.notebook.checker import CheckConfig, check_paths
from spark_ml.notebook.extract import extract, write
from spark_ml.notebook.extract_capture import DEFAULT_LIMIT, CaptureOptions
from spark_ml.notebook.extract_plan import ExtractError
from spark_ml.notebook.extract_tests import add_tests
from spark_ml.notebook.runner import run_notebook
from spark_ml.notebook.settings import NotebookSettings

FAIL_ON = ("info", "warning", "error", "never")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add `notebook check` and `notebook run` to the spark-ml subcommands (`subparsers`)."""
    notebook = subparsers.add_parser("notebook", help="check notebooks for hidden state; run them top to bottom")
    commands = notebook.add_subparsers(dest="notebook_command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        parents=[common],
        help="static checks of .ipynb and Databricks source notebooks (never runs them)",
        description="Report hidden state, code that belongs in the package and production smells.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="notebook files or folders")
    check.add_argument(
        "--format",
        choices=["text", "json", "sarif"],
        default="text",
        help="output format (default text; sarif: SARIF 2.1.0 for code scanning)",
    )
    check.add_argument(
        "--skip-non-notebooks",
        action="store_true",
        help="leave out files named on the command line that are not notebooks (plain .py files), as pre-commit "
        "passes every staged .py file",
    )
    check.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default=None,
        help="exit 1 when a finding is at or above this severity (default: notebook.fail_on, shipped as warning)",
    )
    run = commands.add_parser(
        "run",
        parents=[common],
        help="execute a Jupyter notebook top to bottom in a fresh kernel",
        description="Run every cell in a fresh kernel; report the failing cell, or the first differing output.",
    )
    run.add_argument("path", metavar="PATH", help="a .ipynb file")
    run.add_argument("--compare", action="store_true", help="also compare outputs with the ones saved in the file")
    run.add_argument(
        "--timeout", type=int, default=None, help="seconds a cell may run (default: notebook.cell_timeout_seconds)"
    )
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's kernelspec, else python3)")
    moved = commands.add_parser(
        "extract",
        parents=[common],
        help="move a notebook's functions into a module; their notebook globals become parameters",
        description="Write <root>/PACKAGE/MODULE.py and <stem>.extracted.<ext> beside the notebook (see "
        "docs/notebook-extract.md). Refuses a notebook that would not run top to bottom.",
    )
    moved.add_argument("notebook", metavar="NOTEBOOK", help="a .ipynb or Databricks source .py notebook")
    moved.add_argument("--module", required=True, metavar="PACKAGE.MODULE", help="the module to write")
    moved.add_argument("--root", default=".", metavar="DIR", help="project folder the module goes under (default .)")
    moved.add_argument("--format", choices=["text", "json"], default="text", help="output format (default text)")
    moved.add_argument("--dry-run", action="store_true", help="print the module and the notebook diff; write nothing")
    moved.add_argument("--force", action="store_true", help="overwrite outputs of an earlier run")
    moved.add_argument(
        "--job",
        metavar="NAME",
        default=None,
        help="also write <root>/jobs/NAME.py (for spark-submit): the notebook's reads, the extracted calls, its writes",
    )
    moved.add_argument(
        "--tests", metavar="DIR", default=None, help="folder of the test file (default <root>/tests/unit)"
    )
    moved.add_argument(
        "--capture",
        action="store_true",
        help="run the notebook once in a Jupyter kernel and write characterization tests from what each "
        "function received and returned (default: skeleton tests that fail until completed)",
    )
    moved.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, metavar="N", help="rows sampled from each input (default 5)"
    )
    moved.add_argument(
        "--setup", metavar="FILE", default=None, help="with --capture: Python run in the kernel before the notebook"
    )
    moved.add_argument(
        "--kernel", default=None, help="with --capture: kernel name (default: the notebook's, else python3)"
    )


def run(args: argparse.Namespace, loaded: Settings) -> int:
    """Dispatch `spark-ml notebook ...` with the loaded configuration; errors are raised for
    spark_ml.cli's `guarded` to report."""
    settings = loaded.section("notebook", NotebookSettings)
    if args.notebook_command == "check":
        config = CheckConfig.from_settings(settings, args.fail_on)
        report = check_paths(args.paths, config, skip_non_notebooks=args.skip_non_notebooks)
        formats = {"json": report.to_json, "sarif": report.to_sarif, "text": report.text}
        sys.stdout.write(formats[args.format]())
        return report.exit_code
    if args.notebook_command == "run":
        timeout = args.timeout if args.timeout is not None else settings.cell_timeout_seconds
        if timeout < 1:
            raise ConfigError(f"--timeout must be at least 1 second, got {timeout}")
        result = run_notebook(Path(args.path), compare=args.compare, timeout=timeout, kernel_name=args.kernel)
        sys.stdout.write(result.text())
        return EXIT_OK if result.ok else EXIT_FAILURE
    if args.notebook_command == "extract":
        extraction = extract(Path(args.notebook), args.module, Path(args.root), force=args.force, job=args.job)
        add_tests(extraction, _tests_dir(args), _capture_options(args, settings), force=args.force)
        for note in extraction.notes:
            sys.stderr.write(f"note: {note.text()}\n")
        for message in extraction.step_notes:
            sys.stderr.write(f"note: {message}\n")
        if args.dry_run:
            sys.stdout.write(extraction.dry_run())
            return EXIT_OK
        write(extraction)
        sys.stdout.write(extraction.to_json() if args.format == "json" else extraction.text())
        return EXIT_OK
    raise AssertionError(f"unhandled notebook command {args.notebook_command}")


def _tests_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.tests) if args.tests is not None else None


def _capture_options(args: argparse.Namespace, settings: NotebookSettings) -> CaptureOptions | None:
    if args.limit < 1:
        raise ExtractError(f"--limit must be at least 1, got {args.limit}")
    if not args.capture:
        if args.setup is not None or args.kernel is not None:
            raise ExtractError("--setup and --kernel only apply with --capture")
        return None
    setup = Path(args.setup) if args.setup is not None else None
    return CaptureOptions(args.limit, setup, args.kernel, settings.cell_timeout_seconds)
