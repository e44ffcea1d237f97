"""Configuration error messages: what is wrong, where (file or --set), and the closest valid name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from spark_ml.config.checks import CHECK_KINDS
from spark_ml.config.training import Candidate

_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_type": "a date YYYY-MM-DD",
    "dict_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "missing": "a value (the key is required)",
}


def suggest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def source_of(origins: Mapping[str, str], dotted: str) -> str:
    """The file or --set a dotted key (or its closest parent) came from."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:i]))
        if found:
            return found
    return "the configuration"


def format_validation(
    exc: ValidationError, origins: Mapping[str, str], model: type[BaseModel], prefix: str = ""
) -> str:
    """One message per pydantic error, each naming the dotted key and the file it came from."""
    messages = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not (isinstance(p, str) and p in CHECK_KINDS)]
        dotted = ".".join([prefix, *loc] if prefix else loc)
        where = source_of(origins, dotted)
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            hint = suggest(loc[-1], parent.model_fields if parent else {})
            if not hint and parent is Candidate:
                hint = f" (fields: {', '.join(parent.model_fields)}; an estimator's own parameters go under 'params')"
            if where.startswith("--set ") and where[6:].startswith(f"{dotted}."):
                dotted = where[6:]
            messages.append(f"unknown key '{dotted}' in {where}{hint}")
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            messages.append(f"invalid value {err.get('input')!r} for '{dotted}' in {where}: expected one of {expected}")
        elif kind == "string_pattern_mismatch":
            messages.append(f"invalid value {err.get('input')!r} for '{dotted}' in {where}: {_pattern_words(err)}")
        elif kind in _EXPECTED:
            got = "" if kind == "missing" else f", got {err.get('input')!r}"
            messages.append(f"invalid value for '{dotted}' in {where}: expected {_EXPECTED[kind]}{got}")
        else:
            text = str(err["msg"]).removeprefix("Value error, ")
            messages.append(f"invalid value for '{dotted}' in {where}: {text}")
    return "; ".join(messages)


def _pattern_words(err: Any) -> str:
    pattern = err.get("ctx", {}).get("pattern", "")
    if "\\d{4}-" in pattern:
        return "expected a month YYYY-MM"
    if "\\." in pattern:
        return "expected a table name <schema>.<table> in lower case"
    return "expected a name of letters, digits and underscores"


def _model_at(model: type[BaseModel], loc: Sequence[str]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        field = current.model_fields.get(part)
        if field is None:
            continue  # a dict or list level: keep the model of the values
        current = _model_of(field.annotation)
    return current


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None
