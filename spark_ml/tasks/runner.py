"""Command-line plumbing shared by every task: options, config, logging, session, exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from spark_ml.config import Settings, load_settings
from spark_ml.errors import EXIT_FAILURE, EXIT_USAGE, ConfigError, SparkMLError
from spark_ml.logs import configure_logging, redact
from spark_ml.tasks import TASK_ARGUMENTS, TASKS

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
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = list(args.overrides)
    if args.log_level:
        overrides.append(f"logging.level={args.log_level}")
    return load_settings(args.env, args.conf_dir, overrides)


def log_file(settings: Settings) -> str | None:
    if settings.uses_catalog or "://" in settings.lakehouse.root:
        return None
    return str(Path(settings.lakehouse.root) / "logs" / "spark-ml.log")


def setup(settings: Settings) -> None:
    configure_logging(settings.logging.level, settings.secret_values(), log_file(settings))


def task_module(name: str) -> Any:
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    return importlib.import_module(TASKS[name])


def add_task_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    for flags, kwargs in TASK_ARGUMENTS.get(name, ()):
        parser.add_argument(*flags, **kwargs)


def task_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    options = {}
    for flags, kwargs in TASK_ARGUMENTS.get(name, ()):
        dest = kwargs.get("dest") or flags[0].lstrip("-").replace("-", "_")
        options[dest] = getattr(args, dest)
    return options


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
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"spark-ml {label} failed: {type(exc).__name__}: {redact(first, secrets())}", file=sys.stderr)
        return EXIT_FAILURE


def execute(name: str, args: argparse.Namespace) -> int:
    """Load the settings, start Spark, run the task, print its summary; returns the exit code."""
    state: dict[str, Settings] = {}

    def body() -> int:
        settings = settings_from(args)
        state["settings"] = settings
        setup(settings)
        from spark_ml.session import get_spark
        from spark_ml.tasks.base import recorded_runs

        module = task_module(name)
        options = task_options(name, args)
        spark = get_spark(settings)
        with recorded_runs():  # a run that fails still gets its manifest, with the error
            result = module.run(spark, settings, **options)
        print(result.summary())
        return int(result.exit_code)

    return guarded(name, body, lambda: state["settings"].secret_values() if "settings" in state else ())


def task_main(name: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of one task: `spark-ml-<name> [--env ENV] [--conf-dir DIR] [--set k=v]...`."""
    parser = OneLineParser(prog=f"spark-ml {name}", parents=[common_parser()])
    add_task_arguments(parser, name)
    args = parser.parse_args(argv)
    return execute(name, args)
