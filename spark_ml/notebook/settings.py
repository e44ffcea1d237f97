"""`notebook:` settings of `spark-ml notebook check|run` (rule ids are checked by the rule registry)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from spark_ml.config import Identifier, Model

NotebookSeverity = Literal["info", "warning", "error"]


class NotebookSettings(Model):
    """Rule switches and thresholds; validated from the `notebook` section with `Settings.section`."""

    disabled_rules: tuple[str, ...] = ()
    severity: dict[str, NotebookSeverity] = Field(default_factory=dict)
    fail_on: Literal["info", "warning", "error", "never"] = "warning"
    max_definition_lines: int = Field(default=30, ge=1)
    allowed_globals: tuple[Identifier, ...] = ()
    cell_timeout_seconds: int = Field(default=600, ge=1)
