"""`spark-ml notebook check PATH...`, `notebook run PATH` and `notebook extract NOTEBOOK --module M`,
wired into spark_ml.cli.

Exit codes: 0 clean (check: no finding at or above --fail-on; run: every cell ran and, with
--compare, the outputs match, with --against, the two runs show and write the same; extract:
written, or printed with --dry-run, and with --verify the same), 1 findings at or above the
threshold / a failing cell / differing outputs or tables, 2 bad usage (a path that does not exist, a file
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
from spark_ml.notebook.compare import RunOptions, compare_runs
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
    run.add_argument("path", metavar="PATH", help="a .ipynb file (with --against: or a Databricks source .py)")
    run.add_argument("--compare", action="store_true", help="also compare outputs with the ones saved in the file")
    run.add_argument(
        "--against",
        metavar="OTHER",
        default=None,
        help="also run OTHER (e.g. PATH's .extracted rewrite) in a fresh kernel; compare what the two show and "
        "write (see docs/notebook-extract.md)",
    )
    run.add_argument(
        "--timeout", type=int, default=None, help="seconds a cell may run (default: notebook.cell_timeout_seconds)"
    )
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's kernelspec, else python3)")
    run.add_argument(
        "--root", default=".", metavar="DIR", help="with --against: folder put first on the kernels' sys.path"
    )
    _add_run_inputs(run, "--against")
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
        "--verify",
        action="store_true",
        help="after writing, run the original and the rewritten notebook (and the job) in fresh kernels and compare "
        "what they show and write; exit 1 naming the difference (the written files stay)",
    )
    moved.add_argument(
        "--kernel", default=None, help="with --capture or --verify: kernel name (default: the notebook's, else python3)"
    )
    _add_run_inputs(moved, "--capture or --verify")


def _add_run_inputs(parser: argparse.ArgumentParser, flag: str) -> None:
    parser.add_argument(
        "--setup",
        metavar="FILE",
        default=None,
        help=f"with {flag}: a Python script run first in every kernel, e.g. to create the input tables",
    )
    parser.add_argument(
        "--widget",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"with {flag}: the value dbutils.widgets.get(NAME) gives (repeatable; default: the widget's default)",
    )


def run_options(args: argparse.Namespace, flag: str, timeout: int, pythonpath: Path) -> RunOptions:
    """The comparison's options; --setup and --widget without `flag` are usage errors."""
    if not getattr(args, flag.strip("-")):
        given = [name for name, value in (("--setup", args.setup), ("--widget", args.widget)) if value]
        if given:
            raise ConfigError(f"{' and '.join(given)} only apply with {flag}")
    setup = Path(args.setup) if args.setup is not None else None
    if setup is not None and not setup.is_file():
        raise ConfigError(f"--setup {setup}: no such file")
    return RunOptions(setup, _widgets(args), (pythonpath,), timeout, args.kernel)


def _widgets(args: argparse.Namespace) -> dict[str, str]:
    """--widget NAME=VALUE options as a dict (a malformed one is a usage error naming it)."""
    widgets = {}
    for item in args.widget:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise ConfigError(f"--widget {item!r}: expected NAME=VALUE, e.g. --widget run_date=2013-01-01")
        widgets[name.strip()] = value
    return widgets


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
        options = run_options(args, "--against", timeout, Path(args.root))
        if args.against is not None:
            if args.compare:
                raise ConfigError("--compare (with the saved outputs) and --against OTHER cannot be combined")
            comparison = compare_runs(Path(args.path), Path(args.against), options)
            sys.stdout.write(comparison.text())
            return EXIT_OK if comparison.ok else EXIT_FAILURE
        result = run_notebook(Path(args.path), compare=args.compare, timeout=timeout, kernel_name=args.kernel)
        sys.stdout.write(result.text())
        return EXIT_OK if result.ok else EXIT_FAILURE
    if args.notebook_command == "extract":
        if args.verify and args.dry_run:
            raise ConfigError("--verify runs what extract writes: it cannot be combined with --dry-run")
        if (args.setup is not None or args.kernel is not None) and not (args.capture or args.verify):
            raise ConfigError("--setup and --kernel only apply with --capture or --verify")
        if args.widget and not (args.capture or args.verify):
            raise ConfigError("--widget only applies with --capture or --verify")
        verify_options = (
            run_options(args, "--verify", settings.cell_timeout_seconds, Path(args.root)) if args.verify else None
        )
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
        if not args.verify:
            return EXIT_OK
        assert verify_options is not None  # built above when --verify is given
        comparison = compare_runs(extraction.source, extraction.notebook_path, verify_options, job=extraction.job_path)
        out = sys.stdout if args.format == "text" else sys.stderr
        out.write(comparison.text())
        if not comparison.ok:
            out.write(
                "the written files are kept: compare them with the original, fix, and extract again with --force\n"
            )
        return EXIT_OK if comparison.ok else EXIT_FAILURE
    raise AssertionError(f"unhandled notebook command {args.notebook_command}")


def _tests_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.tests) if args.tests is not None else None


def _capture_options(args: argparse.Namespace, settings: NotebookSettings) -> CaptureOptions | None:
    if args.limit < 1:
        raise ExtractError(f"--limit must be at least 1, got {args.limit}")
    if not args.capture:
        return None
    setup = Path(args.setup) if args.setup is not None else None
    return CaptureOptions(args.limit, setup, args.kernel, settings.cell_timeout_seconds, _widgets(args))
