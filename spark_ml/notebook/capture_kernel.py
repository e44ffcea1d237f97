"""What `notebook extract --capture` runs inside the notebook's kernel: its source is sent as a cell.

Nothing here imports Spark (the notebook's own session and DataFrames are used through their
methods), and nothing imports spark_ml: the kernel may run a Python without it. The host
(spark_ml.notebook.extract_capture) loads this text into a module object in the kernel, wraps each
extracted function with `wrap` after its def, and calls `dump` at the end.

On a function's first call the wrapper records: each DataFrame argument cut to `limit` rows (collected
once, string columns whose names look like secrets replaced by "***", and rebuilt from those rows, so
the test builds exactly what the function saw), each other argument as a Python literal, then the
function's output ON THOSE ROWS (a DataFrame as rows and schema, a tuple of them, or a literal). The
notebook then continues with the function called on its real arguments. Values are written as Python
source (`datetime.date(2013, 1, 1)`, `Decimal('1.50')`, `float("nan")`), so they round-trip exactly.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import inspect
import itertools
import json
import math
import re
from collections.abc import Callable
from typing import Any

MAX_OUTPUT_ROWS = 1000
WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


class Uncapturable(Exception):
    """A value the characterization test could not rebuild; the message says which and why."""


def quoted(text: str | bytes) -> str:
    """repr of a str or bytes in double quotes, as ruff format writes it, when that needs no escape."""
    written = repr(text)
    prefix = "b" if isinstance(text, bytes) else ""
    double = b'"' in text if isinstance(text, bytes) else '"' in text
    if written[len(prefix)] == "'" and not double:  # then the text holds no quote at all
        return f'{prefix}"{written[len(prefix) + 1 : -1]}"'
    return written


def literal(value: Any, imports: set[str]) -> str:
    """`value` as Python source that evaluates to an equal value; `imports` gets `datetime`/`decimal`."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, (str, bytes)):
        return quoted(value)
    if isinstance(value, bytearray):
        return f"bytearray({quoted(bytes(value))})"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, decimal.Decimal):
        imports.add("decimal")
        return f"Decimal({quoted(str(value))})"
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time, datetime.timedelta)):
        if isinstance(value, (datetime.datetime, datetime.time)) and value.tzinfo is not None:
            raise Uncapturable(f"{value!r} has a time zone")
        imports.add("datetime")
        return repr(value)
    if isinstance(value, tuple):  # a Row or a struct value
        items = [literal(v, imports) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return f"[{', '.join(literal(v, imports) for v in value)}]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{literal(k, imports)}: {literal(v, imports)}" for k, v in value.items())
        return f"{{{pairs}}}"
    raise Uncapturable(f"a {type(value).__name__} is not a literal")


class Capture:
    def __init__(self, namespace: dict[str, Any], config: dict[str, Any]) -> None:
        self.namespace = namespace
        self.limit = int(config["limit"])
        self.strong = frozenset(config["strong_words"])
        self.pairs = frozenset(tuple(p) for p in config["strong_pairs"])
        self.references = frozenset(config["reference_words"])
        self.records: dict[str, dict[str, Any]] = {}

    # -- secrets --------------------------------------------------------------------------------

    def secret_name(self, name: str) -> bool:
        words = [w.lower() for w in WORDS.findall(name)]
        if not words or words[-1] in self.references:
            return False
        return any(w in self.strong for w in words) or any(p in self.pairs for p in itertools.pairwise(words))

    # -- values as Python source ----------------------------------------------------------------

    def literal(self, value: Any, imports: set[str]) -> str:
        return literal(value, imports)

    @staticmethod
    def is_frame(value: Any) -> bool:
        return all(hasattr(value, a) for a in ("schema", "collect", "limit", "sparkSession"))

    def sample(self, frame: Any, imports: set[str]) -> tuple[Any, dict[str, Any]]:
        """(the frame rebuilt from `limit` collected rows, its record)."""
        schema = frame.schema
        rows = [list(row) for row in frame.limit(self.limit).collect()]
        for i, field in enumerate(schema.fields):
            if field.dataType.typeName() == "string" and self.secret_name(field.name):
                for row in rows:
                    row[i] = None if row[i] is None else "***"
        rebuilt = frame.sparkSession.createDataFrame([tuple(r) for r in rows], schema)
        return rebuilt, self.frame_record(rows, schema, imports)

    def frame_record(self, rows: list[Any], schema: Any, imports: set[str]) -> dict[str, Any]:
        return {
            "kind": "frame",
            "rows": [[self.literal(v, imports) for v in r] for r in rows],
            "schema": json.loads(schema.json()),
        }

    def value(self, name: str, value: Any, imports: set[str]) -> tuple[Any, dict[str, Any]]:
        if self.is_frame(value):
            return self.sample(value, imports)
        if isinstance(value, str) and self.secret_name(name):
            return "***", {"kind": "literal", "code": quoted("***")}
        try:
            return value, {"kind": "literal", "code": self.literal(value, imports)}
        except Uncapturable as exc:
            raise Uncapturable(f"`{name}` is not a DataFrame or a literal ({exc})") from exc

    def output(self, result: Any, imports: set[str]) -> dict[str, Any]:
        if self.is_frame(result):
            rows = result.limit(MAX_OUTPUT_ROWS + 1).collect()
            if len(rows) > MAX_OUTPUT_ROWS:
                raise Uncapturable(f"its output on the sampled rows has more than {MAX_OUTPUT_ROWS} rows")
            return self.frame_record(rows, result.schema, imports)
        if isinstance(result, tuple) and result and all(self.is_frame(r) for r in result):
            return {"kind": "frames", "items": [self.output(r, imports) for r in result]}
        try:
            return {"kind": "literal", "code": self.literal(result, imports)}
        except Uncapturable as exc:
            raise Uncapturable(f"it returns a {type(result).__name__}, not a DataFrame or a literal") from exc

    # -- the wrapper ----------------------------------------------------------------------------

    def wrap(self, function: Callable[..., Any], spec: dict[str, Any]) -> Callable[..., Any]:
        name = spec["name"]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name not in self.records:
                self.records[name] = {"reason": "it called itself while being captured"}
                try:
                    self.records[name] = self.record(function, spec, args, kwargs)
                except Uncapturable as exc:
                    self.records[name] = {"reason": str(exc)}
            return function(*args, **kwargs)

        return wrapper

    def record(
        self, function: Callable[..., Any], spec: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        imports: set[str] = set()
        signature = inspect.signature(function)
        bound = signature.bind(*args, **kwargs)
        inputs: list[dict[str, Any]] = []
        for pname, given in bound.arguments.items():
            if signature.parameters[pname].kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise Uncapturable(f"it takes *{pname}")
            bound.arguments[pname], record = self.value(pname, given, imports)
            inputs.append({"name": pname, "own": True, **record})
        swapped: dict[str, Any] = {}
        try:
            for pname, param in spec["added"].items():
                if param["kind"] == "spark":
                    inputs.append({"name": pname, "own": False, "kind": "spark"})
                elif param["kind"] == "value":
                    source = param["source"]
                    sampled, record = self.value(source, self.namespace[source], imports)
                    swapped[source] = self.namespace[source]
                    self.namespace[source] = sampled  # the function reads the global: give it the sample
                    inputs.append({"name": pname, "own": False, **record})
            result = function(*bound.args, **bound.kwargs)
            out = self.output(result, imports)
        finally:
            self.namespace.update(swapped)
        return {"inputs": inputs, "output": out, "imports": sorted(imports)}

    def dump(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.records, handle, indent=1)
