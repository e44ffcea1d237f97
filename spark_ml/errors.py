"""Exceptions of spark_ml: one root, a few specific kinds, each with the exit code the CLI uses;
and how errors of Spark and Delta are told apart (by their error condition). Imports nothing of
spark_ml (the bottom layer).

Exit codes: 0 success; 1 runtime failure; 2 bad usage or configuration; 3 drift alert
(``monitor --fail-on-alert``); 4 challenger rejected (``promote --fail-on-reject``).
"""

from __future__ import annotations

from typing import Any

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


class ParameterError(ConfigError):
    """A function was given a parameter value it cannot use (a window of 0 days): exits 2 like the
    configuration the value came from."""


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


def first_line(text: object, limit: int = 300) -> str:
    """The first line of `str(text)` without surrounding blank space, at most `limit` characters;
    "" when there is none."""
    lines = str(text).strip().splitlines()
    return lines[0].strip()[:limit] if lines else ""


def error_summary(exc: BaseException) -> str:
    """`Type: first line of the message`: how errors are summarized in one-line messages and run
    manifests (just `Type` when the message is empty)."""
    line = first_line(exc)
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


# -- Spark errors by condition ---------------------------------------------------------------------
# Spark and Delta exceptions carry an error condition (`getCondition()` since pyspark 4.0,
# `getErrorClass()` before) and message parameters, in classic sessions and under Spark Connect
# alike: errors are told apart by these, never by message text.

# A session setting the runtime does not let a session change (Databricks serverless allows a few).
CONFIG_NOT_CHANGEABLE = frozenset({"CONFIG_NOT_AVAILABLE", "CANNOT_MODIFY_CONFIG"})


def condition(exc: BaseException) -> str | None:
    """The Spark error condition of `exc` (e.g. TABLE_OR_VIEW_NOT_FOUND), None when it has none.

    Conditions may carry a sub-condition after a dot (`FAILED_READ_FILE.FILE_NOT_EXIST`); the main
    one is returned. A Java error that pyspark does not convert (a failed job raises py4j's
    `Py4JJavaError`) still carries its condition on the Java exception it holds."""
    for source in (exc, getattr(exc, "java_exception", None)):
        for getter in ("getCondition", "getErrorClass"):
            method = getattr(source, getter, None)
            if method is None:
                continue
            try:
                value = method()
            except Exception:  # a getter that is present but unsupported here
                continue
            if value:
                return str(value).split(".", 1)[0]
    return None


def parameters(exc: BaseException) -> dict[str, str]:
    """The message parameters of a Spark error (e.g. the versions a time travel could read)."""
    method = getattr(exc, "getMessageParameters", None)
    if method is None:
        return {}
    try:
        found: Any = method()
    except Exception:
        return {}
    return {str(k): str(v) for k, v in (found or {}).items()}


def has_condition(exc: BaseException, conditions: frozenset[str]) -> bool:
    """True when `exc`, or an exception it was raised from, has one of `conditions`."""
    seen: BaseException | None = exc
    while seen is not None:
        if condition(seen) in conditions:
            return True
        seen = seen.__cause__
    return False
