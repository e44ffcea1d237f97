"""NB502: hard-coded secrets. Reported by kind and location; the value itself is never printed.

Two ways to be found: a string that looks like a known token (Databricks `dapi...`, GitHub `ghp_...`,
AWS key ids, Slack, JWTs, private keys, `user:password@` in URLs), anywhere in a cell; or a string
literal given to a name that says it is a secret (`password`, `token`, `secret`, `api_key`,
`client_secret`: 6+ characters, not a placeholder) or to a name ending in `key` when the value is
long and high-entropy. References are fine: `dbutils.secrets.get(...)`, `os.environ[...]`,
`{{secrets/scope/key}}`, `${env:NAME}`.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from typing import TypeGuard

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.model import Hit

TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Databricks personal access token", re.compile(r"\bdapi[0-9a-f]{32}(?:-\d+)?\b")),
    ("a GitHub token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{40,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@{}$]+:[^/\s@{}$]{3,}@")),
)
STRONG_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "token", "credential", "credentials", "apikey", "pat"}
)
STRONG_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("account", "key")})
# A name holding a reference to a secret, not the secret: token_url, secret_scope, password_env...
REFERENCE_WORDS = frozenset(
    {"scope", "name", "id", "env", "var", "url", "uri", "path", "file", "column", "col", "field", "type", "header"}
    | {"prefix", "len", "length", "count", "expiry", "ttl"}
)
# .option("password", "..."), spark.conf.set("fs.azure.account.key...", "..."), builder.config(k, v)
KEY_VALUE_METHODS = frozenset({"option", "set", "config"})
_PLACEHOLDER = re.compile(r"^<.*>$|\$\{.*\}|\{\{.*\}\}|^\*+$|^x+$|^\.\.\.$|^(changeme|redacted|dummy|example)$", re.I)
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
FIX = (
    "read it at run time (dbutils.secrets.get(scope, key) on Databricks, an environment variable locally, "
    "`${env:NAME}` in conf/) and rotate the exposed value"
)


def check_secrets(ctx: Context) -> Iterator[Hit]:
    seen: set[tuple[int, int]] = set()
    python = {p.cell.number for p in ctx.cells}
    for parsed in ctx.cells:
        for line, what in _python_secrets(parsed.tree):
            if (parsed.cell.number, line) not in seen:
                seen.add((parsed.cell.number, line))
                yield Hit("NB502", parsed.cell.number, line, f"hard-coded secret: {what}", FIX)
        for magic in parsed.cell.magics:
            for what in _tokens_in(magic.argument):
                if (parsed.cell.number, magic.line) not in seen:
                    seen.add((parsed.cell.number, magic.line))
                    yield Hit("NB502", parsed.cell.number, magic.line, f"hard-coded secret: {what}", FIX)
    for cell in ctx.notebook.cells:
        if cell.number in python:
            continue
        for line, text in enumerate(cell.raw.splitlines(), 1):
            for what in _tokens_in(text)[:1]:
                yield Hit("NB502", cell.number, line, f"hard-coded secret: {what}", FIX)


def _tokens_in(text: str) -> list[str]:
    return [kind for kind, pattern in TOKEN_PATTERNS if pattern.search(text)]


def _python_secrets(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for kind, pattern in TOKEN_PATTERNS:
                match = pattern.search(node.value)
                if match:
                    yield node.lineno + node.value[: match.start()].count("\n"), kind
                    break
    for name, value in _named_strings(tree):
        if _is_secret_value(name, str(value.value)):
            yield value.lineno, f"a string literal given to `{name}`"


def _named_strings(tree: ast.Module) -> Iterator[tuple[str, ast.Constant]]:
    """(name, string literal) pairs: assignments, keywords, dict entries, .option/.set/.config(k, v), defaults."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _is_str(node.value):
                for target in targets:
                    name = _target_name(target)
                    if name:
                        yield name, node.value
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg and _is_str(keyword.value):
                    yield keyword.arg, keyword.value
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in KEY_VALUE_METHODS and len(node.args) == 2:
                key, value = node.args
                if _is_str(key) and _is_str(value):
                    yield str(key.value), value
        elif isinstance(node, ast.Dict):
            for entry_key, entry_value in zip(node.keys, node.values, strict=True):
                if _is_str(entry_key) and _is_str(entry_value):
                    yield str(entry_key.value), entry_value
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            positional = [*node.args.posonlyargs, *node.args.args]
            defaults = node.args.defaults
            pairs = list(zip(positional[len(positional) - len(defaults) :], defaults, strict=True))
            pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True) if d is not None]
            for arg, default in pairs:
                if _is_str(default):
                    yield arg.arg, default


def _is_str(node: ast.AST | None) -> TypeGuard[ast.Constant]:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _target_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and _is_str(target.slice):
        return str(target.slice.value)
    return None


def _is_secret_value(name: str, value: str) -> bool:
    words = [w.lower() for w in _WORDS.findall(name)]
    if not words or any(w in REFERENCE_WORDS for w in words):
        return False
    text = value.strip()
    if not text or any(c.isspace() for c in text) or _PLACEHOLDER.search(text):
        return False
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", text):  # the name of an environment variable
        return False
    strong = any(w in STRONG_WORDS for w in words) or any(pair in STRONG_PAIRS for pair in pairwise(words))
    if strong:
        return len(text) >= 6
    if words[-1] == "key":
        has_both = any(c.isalpha() for c in text) and any(c.isdigit() for c in text)
        return len(text) >= 20 and has_both and _entropy(text) >= 3.5
    return False


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
