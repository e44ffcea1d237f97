"""One module per job: `run(spark, cfg, ...) -> TaskResult` and `main(argv=None) -> int`.

The registry below is the allow-list of task modules the CLI may load, with each task's own command
line options (kept here so building the CLI does not import Spark or MLflow).
"""

from __future__ import annotations

from typing import Any

Argument = tuple[tuple[str, ...], dict[str, Any]]

TASKS: dict[str, str] = {
    "ingest": "spark_ml.tasks.ingest",
    "silver": "spark_ml.tasks.silver",
    "features": "spark_ml.tasks.features",
    "train": "spark_ml.tasks.train",
    "promote": "spark_ml.tasks.promote",
    "score": "spark_ml.tasks.score",
    "monitor": "spark_ml.tasks.monitor",
    "pipeline": "spark_ml.tasks.pipeline",
}

TASK_ARGUMENTS: dict[str, tuple[Argument, ...]] = {
    "promote": ((("--fail-on-reject",), {"action": "store_true", "help": "exit 4 when the challenger is rejected"}),),
    "monitor": ((("--fail-on-alert",), {"action": "store_true", "help": "exit 3 when drift reaches the alert level"}),),
    "pipeline": (
        (("--fail-on-reject",), {"action": "store_true", "help": "exit 4 when the challenger is rejected"}),
        (("--fail-on-alert",), {"action": "store_true", "help": "exit 3 when drift reaches the alert level"}),
    ),
}
