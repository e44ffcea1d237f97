"""The `spark-ml` command: every registered task, plus doctor, config show, lineage, reproduce,
the notebook checks and `new usecase`; and the `spark-ml-<task>` console scripts.

    __init__.py    the parser of every command, their handlers, and the console-script functions
    runner.py      options, config, logging, the session and exit codes of one command (run_task)
    doctor.py      `spark-ml doctor`: versions, a Delta round trip, an MLflow run, one line each
    dev.py         `spark-ml dev start|status|stop`: the warm Spark Connect server of the edit-test loop
    __main__.py    `python -m spark_ml.cli`

    spark-ml <task> [--env ENV] [--conf-dir DIR] [--set KEY=VALUE]... [task options]

Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration, 3 drift alert
(--fail-on-alert), 4 challenger rejected (--fail-on-reject).

May import every other package of spark_ml (it is the top layer).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from spark_ml.cli.runner import (
    OneLineParser,
    add_task_arguments,
    common_parser,
    configure_command_logging,
    execute,
    guarded,
    run_task,
    settings_from,
)
from spark_ml.errors import ConfigError
from spark_ml.logs import text_table
from spark_ml.notebook import cli as notebook_cli
from spark_ml.tasks import TASKS
from spark_ml.versions import __version__

__all__ = ["build_parser", "entrypoint", "main", "run_task"]


def build_parser() -> argparse.ArgumentParser:
    common = common_parser()
    parser = OneLineParser(prog="spark-ml", description="Spark, Delta Lake and MLflow jobs for ML.")
    parser.add_argument("--version", action="version", version=f"spark-ml {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    for task in TASKS.values():
        add_task_arguments(sub.add_parser(task.name, parents=[common], help=task.help), task)
    sub.add_parser("doctor", parents=[common], help="check Python, Java, Spark, Delta and MLflow")
    sub.add_parser(
        "spark-submit-args",
        help="print the spark-submit flags for Delta: spark-submit $(spark-ml spark-submit-args) ...",
    )
    config = sub.add_parser("config", help="configuration commands")
    config_sub = config.add_subparsers(dest="config_command", required=True, parser_class=OneLineParser)
    show = config_sub.add_parser("show", parents=[common], help="print the resolved config, secrets masked")
    show.add_argument("--format", choices=["yaml", "json"], default="yaml")
    notebook_cli.register(sub, common)
    _register_reproducibility(sub, common)
    new = sub.add_parser("new", help="scaffold a new use case in this checkout")
    new_sub = new.add_subparsers(dest="new_command", required=True, metavar="KIND", parser_class=OneLineParser)
    usecase = new_sub.add_parser(
        "usecase", help="a feature builder, its conf folder, tests and a notebook: spark-ml new usecase NAME"
    )
    usecase.add_argument("name", help="a lowercase identifier, e.g. churn")
    usecase.add_argument("--into", default=".", help="the project checkout to write into (default: here)")
    usecase.add_argument(
        "--task",
        choices=["binary", "multiclass", "regression"],
        default="binary",
        help="the model's kind: its conf's label, estimator, metric and gate (default: binary)",
    )
    dev = sub.add_parser(
        "dev", parents=[common], help="a warm local Spark Connect server for the edit-test loop: start, status, stop"
    )
    dev.add_argument("dev_command", choices=["start", "status", "stop"], metavar="start|status|stop")
    dev.add_argument("--port", type=int, default=None, help="the server's port on 127.0.0.1 (default 15002)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command
    if command in TASKS:
        return execute(command, args)
    handlers: dict[str, Callable[[], int]] = {
        "config": lambda: _config_show(args),
        "doctor": lambda: _doctor(args),
        "spark-submit-args": _spark_submit_args,
        "lineage": lambda: _lineage(args),
        "reproduce": lambda: _reproduce(args),
        "notebook": lambda: notebook_cli.run(args, settings_from(args)),
        "new": lambda: _new(args),
        "dev": lambda: _dev(args),
    }
    return guarded(command, handlers[command])


def _config_show(args: argparse.Namespace) -> int:
    data = settings_from(args).dump(masked=True)
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=False))
    else:
        print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from spark_ml.cli.doctor import run_checks

    settings = settings_from(args)
    configure_command_logging(settings, "doctor", args)
    checks = run_checks(settings)
    for check in checks:
        print(check.line())
    return 0 if all(c.ok for c in checks) else 1


def _new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spark_ml.scaffold import new_usecase, next_steps

    written = new_usecase(args.name, Path(args.into), args.task)
    print(f"use case {args.name!r} written into {Path(args.into).resolve()}:")
    rows = [(str(item.path), f"{'(edited) ' if item.edited else ''}{item.what}") for item in written]
    print("\n".join(text_table(rows, indent="  ")))
    print("next, at the checkout's root:")
    print("\n".join(next_steps(args.name)))
    return 0


def _dev(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spark_ml.cli import dev

    settings = settings_from(args)
    port = dev.DEFAULT_PORT if args.port is None else args.port
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    return dev.run(args.dev_command, Path(settings.lakehouse.root) / "dev", port)


def _spark_submit_args() -> int:
    from spark_ml.session import spark_submit_args

    print(" ".join(shlex.quote(a) for a in spark_submit_args()))
    return 0


def _register_reproducibility(sub: Any, common: argparse.ArgumentParser) -> None:
    lineage = sub.add_parser(
        "lineage", parents=[common], help="what produced a table or a model: runs, input versions, landing files"
    )
    lineage.add_argument("target", help="a table (gold.flight_features) or a model (models:/flight_delay@champion)")
    lineage.add_argument("--version", type=int, default=None, help="a table version (default: the latest recorded)")
    lineage.add_argument("--depth", type=int, default=12, help="how many levels upstream to follow (default 12)")
    lineage.add_argument("--format", choices=["text", "json"], default="text")
    repro = sub.add_parser(
        "reproduce", parents=[common], help="re-train a recorded training run and compare its metrics"
    )
    repro.add_argument("mlflow_run_id", help="the MLflow run id of the training run")
    repro.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="absolute metric tolerance (default: 1e-12, i.e. exact; xgboost 0.001)",
    )
    repro.add_argument("--register", action="store_true", help="also register the reproduced model (no alias)")
    repro.add_argument("--format", choices=["text", "json"], default="text")


def _lineage(args: argparse.Namespace) -> int:
    from spark_ml.provenance import lineage
    from spark_ml.session import spark_session

    settings = settings_from(args)
    configure_command_logging(settings, "lineage", args)
    model = lineage.check_target(settings, args.target)  # bad names fail before Spark starts
    if model is not None:
        lineage.resolve_model(settings, model)
    with spark_session(settings) as spark:
        found = lineage.run(spark, settings, args.target, version=args.version, depth=args.depth)
    print(json.dumps(found.as_dict(), indent=2, default=str) if args.format == "json" else found.text())
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from spark_ml.provenance import reproduce
    from spark_ml.session import spark_session
    from spark_ml.tasks import train

    settings = settings_from(args)
    configure_command_logging(settings, "reproduce", args)
    reproduce.check_tolerance(args.tolerance)  # bad arguments and an unknown run fail before Spark starts
    reproduce.original(settings, args.mlflow_run_id)
    with spark_session(settings) as spark:
        outcome = reproduce.run(
            spark, settings, args.mlflow_run_id, train.run, tolerance=args.tolerance, register=args.register
        )
    print(json.dumps(outcome.as_dict(), indent=2, default=str) if args.format == "json" else outcome.text())
    return 0 if outcome.matches else 1


def entrypoint() -> None:
    """Console script `spark-ml`."""
    sys.exit(main())


# Console scripts (setup.cfg) and Databricks python_wheel_task entry points, one per registered task;
# tests/unit/test_task_registry.py checks this list against the task registry and setup.cfg.


def land_demo_data() -> None:
    """Console script `spark-ml-land-demo-data`."""
    sys.exit(run_task("land-demo-data"))


def ingest() -> None:
    """Console script `spark-ml-ingest`."""
    sys.exit(run_task("ingest"))


def silver() -> None:
    """Console script `spark-ml-silver`."""
    sys.exit(run_task("silver"))


def features() -> None:
    """Console script `spark-ml-features`."""
    sys.exit(run_task("features"))


def train() -> None:
    """Console script `spark-ml-train`."""
    sys.exit(run_task("train"))


def promote() -> None:
    """Console script `spark-ml-promote`."""
    sys.exit(run_task("promote"))


def score() -> None:
    """Console script `spark-ml-score`."""
    sys.exit(run_task("score"))


def monitor() -> None:
    """Console script `spark-ml-monitor`."""
    sys.exit(run_task("monitor"))


def pipeline() -> None:
    """Console script `spark-ml-pipeline`."""
    sys.exit(run_task("pipeline"))
