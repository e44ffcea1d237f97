"""Running a command: options, config, logging, the session, and exit codes.

Every command goes through `guarded`: bad usage or configuration exits 2 with one line before
Spark starts, a failure exits 1 (or the error's own code) with one line naming the command and the
cause, and the full trace goes to the log file.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from spark_ml.config import Settings, load_settings, redact
from spark_ml.errors import EXIT_FAILURE, EXIT_USAGE, ConfigError, SparkMLError, error_summary
from spark_ml.logs import Verbosity, configure_logging
from spark_ml.tasks import Task, get_task

log = logging.getLogger("spark_ml")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def common_parser() -> OneLineParser:
    parser = OneLineParser(add_help=False)
    parser.add_argument("--env", default="local", help="configuration environment (conf/<env>/), default local")
    parser.add_argument("--conf-dir", default=None, help="external conf folder holding base/ and <env>/")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.seed=7 (repeatable)",
    )
    parser.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show every log record on the console (they always go to the log file)",
    )
    loudness.add_argument("-q", "--quiet", action="store_true", help="show only errors and the final summary")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = list(args.overrides)
    if getattr(args, "log_level", None):
        overrides.append(f"logging.level={args.log_level}")
    return load_settings(args.env, args.conf_dir, overrides)


def log_file(settings: Settings, command: str) -> str | None:
    """`<root>/logs/<command>-<UTC time>.log`: the full log of one command run (None on Databricks,
    where the job's driver log holds it)."""
    logs = settings.layout.logs_dir
    if logs is None:
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return str(Path(logs) / f"{command.replace(' ', '-')}-{stamp}.log")


def configure_command_logging(settings: Settings, command: str, args: argparse.Namespace | None = None) -> str | None:
    """Logging for one command; returns the log file it writes."""
    verbosity: Verbosity = "normal"
    if args is not None and getattr(args, "verbose", False):
        verbosity = "verbose"
    elif args is not None and getattr(args, "quiet", False):
        verbosity = "quiet"
    path = log_file(settings, command)
    configure_logging(settings.logging.level, settings.secret_values(), path, verbosity)
    return path


def add_task_arguments(parser: argparse.ArgumentParser, task: Task) -> None:
    for option in task.options:
        if option.type is None:
            parser.add_argument(option.flag, action="store_true", help=option.help)
        else:
            parser.add_argument(option.flag, type=option.type, default=None, help=option.help)


def task_options(task: Task, args: argparse.Namespace) -> dict[str, Any]:
    return {o.dest: getattr(args, o.dest) for o in task.options}


def guarded(label: str, body: Callable[[], int], secrets: Callable[[], Sequence[str]] = lambda: ()) -> int:
    """Run `body`, turning errors into exit codes: 2 with one line for bad usage or configuration,
    1 with a one-line summary naming `label` and the cause (the full trace goes to the log)."""
    try:
        return body()
    except ConfigError as exc:
        print(f"spark-ml {label}: error: {redact(str(exc), secrets())}", file=sys.stderr)
        return EXIT_USAGE
    except SparkMLError as exc:
        log.debug("%s failed", label, exc_info=True)
        print(f"spark-ml {label} failed: {redact(str(exc), secrets())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"spark-ml {label} interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:
        log.debug("%s failed", label, exc_info=True)
        print(f"spark-ml {label} failed: {redact(error_summary(exc), secrets())}", file=sys.stderr)
        return EXIT_FAILURE


def execute(name: str, args: argparse.Namespace) -> int:
    """Load the settings, start Spark, run the task, print its summary; returns the exit code."""
    state: dict[str, Settings] = {}

    def body() -> int:
        task = get_task(name)
        settings = settings_from(args)
        state["settings"] = settings
        written = configure_command_logging(settings, name, args)
        task.check(settings)  # what can be checked without Spark exits 2 before Spark starts
        options = task_options(task, args)
        if not task.spark:
            result = task.run_function()(None, settings, **options)
        else:
            from spark_ml.session import spark_session

            with spark_session(settings) as spark:
                result = task.run_function()(spark, settings, **options)
        print(result.summary())
        if written is not None:
            print(f"log: {written}")
        return int(result.exit_code)

    return guarded(name, body, lambda: state["settings"].secret_values() if "settings" in state else ())


def run_task(name: str, argv: Sequence[str] | None = None) -> int:
    """Run one task from its own command line, `spark-ml-<name> [--env ENV] [--conf-dir DIR] [--set k=v]...`:
    what the console scripts and `jobs/<task>.py` under spark-submit call."""
    task = get_task(name)
    parser = OneLineParser(prog=f"spark-ml {name}", parents=[common_parser()])
    add_task_arguments(parser, task)
    args = parser.parse_args(argv)
    return execute(name, args)
