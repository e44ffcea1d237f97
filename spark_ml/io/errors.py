"""Errors of Spark, Delta and MLflow by class and code, never by message text.

Spark and Delta exceptions carry an error condition (`getCondition()` since pyspark 4.0,
`getErrorClass()` before) and message parameters, in classic sessions and under Spark Connect
alike; MLflow's `MlflowException` carries an `error_code`.
"""

from __future__ import annotations

from typing import Any


def condition(exc: BaseException) -> str | None:
    """The Spark error condition of `exc` (e.g. TABLE_OR_VIEW_NOT_FOUND), None when it has none.

    Conditions may carry a sub-class after a dot (`DELTA_X.SUB`); the main class is returned."""
    for getter in ("getCondition", "getErrorClass"):
        method = getattr(exc, getter, None)
        if method is None:
            continue
        try:
            value = method()
        except Exception:  # a getter of an older pyspark that is present but unsupported
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


def mlflow_code(exc: BaseException) -> str | None:
    """The error code of an MlflowException (RESOURCE_DOES_NOT_EXIST, ...), None for other errors."""
    from mlflow.exceptions import MlflowException

    return str(exc.error_code) if isinstance(exc, MlflowException) else None
