"""The two forms of the model choice across layers: `train.candidates`, or the older single
`train.estimator` with its `params` and `grid`.

A later layer that sets `candidates` drops an earlier layer's `estimator`, `params` and `grid`, and
one that sets `estimator` drops an earlier `candidates`, so an env layer can switch form without
unsetting the base's keys. Both forms in one layer, or `params`/`grid` over a candidates list, is
an error naming both keys and their files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spark_ml.config.messages import source_of
from spark_ml.config.training import SINGLE_MODEL_KEYS
from spark_ml.errors import ConfigError

# The keys each form drops from the merged `train:` when a later layer sets it.
REPLACES = {"candidates": SINGLE_MODEL_KEYS, "estimator": ("candidates",)}


def replace_model_choice(train: dict[str, Any], incoming: Mapping[str, Any]) -> None:
    """A layer that sets one form of the model choice drops the other form of earlier layers from
    `train`; a layer holding both keeps both, for `check_model_choice` to name."""
    if "candidates" in incoming and "estimator" in incoming:
        return
    for key, replaced in REPLACES.items():
        if key in incoming:
            for old in replaced:
                train.pop(old, None)


def check_model_choice(data: Mapping[str, Any], origins: Mapping[str, str]) -> None:
    """The merged layers give one form only, else a ConfigError naming each key with its file."""
    train = data.get("train")
    if not isinstance(train, dict) or "candidates" not in train:
        return
    both = [k for k in SINGLE_MODEL_KEYS if k in train]
    if both:
        given = " and ".join(f"'train.{k}' ({source_of(origins, f'train.{k}')})" for k in both)
        raise ConfigError(
            f"'train.candidates' ({source_of(origins, 'train.candidates')}) and {given} are both given: "
            "list every estimator under train.candidates (each with its params and grid), "
            "or set train.estimator to train a single one"
        )
