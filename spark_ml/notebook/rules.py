"""The rule registry: ids, names, default severities; config may name a rule by id or by name.

Severities: `error` (a fresh top-to-bottom run fails or the saved state cannot be trusted, or a secret
leaks), `warning` (hidden-state or production risk), `info` (advice).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping

from spark_ml.errors import ConfigError
from spark_ml.notebook import (
    rules_code,
    rules_execution,
    rules_names,
    rules_random,
    rules_secrets,
    rules_smells,
    rules_state,
)
from spark_ml.notebook.analysis import Context
from spark_ml.notebook.model import Hit, RuleInfo, Severity

RULES: dict[str, RuleInfo] = {
    rule.id: rule
    for rule in (
        RuleInfo("NB001", "unreadable-notebook", "error", "the file cannot be read as a notebook"),
        RuleInfo("NB002", "syntax-error", "error", "a Python cell does not parse"),
        RuleInfo("NB101", "out-of-order-execution", "error", "execution counts do not increase top to bottom"),
        RuleInfo("NB102", "skipped-cell", "error", "a cell never ran but cells below it did"),
        RuleInfo("NB103", "cell-run-more-than-once", "warning", "execution counts skip numbers: cells were re-run"),
        RuleInfo("NB201", "used-before-defined", "error", "a name is used above the cell that defines it"),
        RuleInfo("NB202", "undefined-name", "error", "a name is read that no cell defines, imports or is given"),
        RuleInfo("NB301", "function-reads-globals", "warning", "a function, lambda or class reads notebook variables"),
        RuleInfo(
            "NB302",
            "reassigned-across-cells",
            "warning",
            "a variable is assigned in several cells and read across cells",
        ),
        RuleInfo("NB401", "long-definition", "info", "a definition is longer than notebook.max_definition_lines"),
        RuleInfo("NB402", "duplicates-package-code", "warning", "a definition duplicates one in the spark_ml package"),
        RuleInfo("NB501", "unbounded-collect", "warning", "collect()/toPandas() on a frame not limited or aggregated"),
        RuleInfo("NB502", "hard-coded-secret", "error", "a token, password or key is written in the notebook"),
        RuleInfo("NB503", "absolute-path", "warning", "an absolute workspace, home or local path"),
        RuleInfo("NB504", "run-magic", "warning", "%run pulls another notebook's globals into this one"),
        RuleInfo("NB505", "unseeded-randomness", "warning", "random splits, samples or numbers without a seed"),
    )
}
_BY_NAME = {rule.name: rule.id for rule in RULES.values()}

Check = Callable[[Context], Iterable[Hit]]


def resolve_rule(key: str, setting: str) -> str:
    """A rule id from an id (any case) or a name; ConfigError naming the setting otherwise."""
    wanted = key.strip()
    if wanted.upper() in RULES:
        return wanted.upper()
    if wanted.lower() in _BY_NAME:
        return _BY_NAME[wanted.lower()]
    close = difflib.get_close_matches(wanted, [*RULES, *_BY_NAME], n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown rule {key!r} in {setting}{hint}; rules: {', '.join(RULES)}")


def resolve_rules(keys: Iterable[str], setting: str) -> frozenset[str]:
    return frozenset(resolve_rule(k, setting) for k in keys)


def resolve_severities(overrides: Mapping[str, Severity], setting: str) -> dict[str, Severity]:
    return {resolve_rule(k, f"{setting}.{k}"): v for k, v in overrides.items()}


# (rule ids a check can report, the check)
CHECKS: tuple[tuple[frozenset[str], Check], ...] = (
    (frozenset({"NB101", "NB102", "NB103"}), rules_execution.check_execution),
    (frozenset({"NB201"}), rules_state.check_used_before_defined),
    (frozenset({"NB202"}), rules_names.check_undefined_names),
    (frozenset({"NB301"}), rules_state.check_functions_read_globals),
    (frozenset({"NB302"}), rules_state.check_reassigned),
    (frozenset({"NB401"}), rules_code.check_long_definitions),
    (frozenset({"NB402"}), rules_code.check_duplicates),
    (frozenset({"NB501"}), rules_smells.check_collect),
    (frozenset({"NB502"}), rules_secrets.check_secrets),
    (frozenset({"NB503"}), rules_smells.check_paths),
    (frozenset({"NB504"}), rules_smells.check_run_magic),
    (frozenset({"NB505"}), rules_random.check_randomness),
)
