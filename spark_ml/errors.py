"""Exceptions of spark_ml: one root, a few specific kinds, each with the exit code the CLI uses.

Exit codes: 0 success; 1 runtime failure; 2 bad usage or configuration; 3 drift alert
(``monitor --fail-on-alert``); 4 challenger rejected (``promote --fail-on-reject``).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DRIFT_ALERT = 3
EXIT_REJECTED = 4


class SparkMLError(Exception):
    """Root of every error raised on purpose by spark_ml."""

    exit_code = EXIT_FAILURE


class ConfigError(SparkMLError):
    """The configuration or the command line is wrong: names the file, key or value."""

    exit_code = EXIT_USAGE


class TableNotFoundError(SparkMLError):
    """A logical table has no data yet at its location."""


class DataQualityError(SparkMLError):
    """A data-quality check with severity `error` failed; nothing was written."""


class DataLossError(SparkMLError):
    """Rows read do not equal rows written plus rows quarantined."""


class LandingError(SparkMLError):
    """A landing file cannot be ingested (empty, wrong header)."""


class SchemaMismatchError(SparkMLError):
    """A DataFrame lacks columns a step needs."""


class ModelRegistryError(SparkMLError):
    """The model registry is unreachable or an alias points at nothing."""


class ConcurrentWriteError(SparkMLError):
    """A Delta write kept conflicting with other writers after every retry."""


class ReproducibilityError(SparkMLError):
    """A recorded run cannot be reproduced (missing record or vacuumed data)."""


def first_line(exc: BaseException) -> str:
    """`Type: first line of the message` (at most 300 characters): how errors are summarized in
    one-line messages and run manifests."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"
