"""Secret masking in one place: the mask, which keys hold secrets, and redaction of known values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
SECRET_KEY_PATTERN = re.compile(r"(password|passwd|secret|token|api[_-]?key|credential)", re.IGNORECASE)


def mask_secret_keys(data: Any, key: str = "") -> Any:
    """`data` with the value of every key that names a secret (password, token, ...) replaced by MASK."""
    if isinstance(data, dict):
        return {k: mask_secret_keys(v, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_secret_keys(v, key) for v in data]
    if key and SECRET_KEY_PATTERN.search(key) and data not in (None, ""):
        return MASK
    return data


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of a known secret value replaced by MASK."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
