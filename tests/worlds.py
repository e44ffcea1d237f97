"""Built lakehouses, copied instead of rebuilt: a test that changes one works on its own copy.

Delta tables reference their data files by relative path, so a copied table folder is the same
table. The SQLite MLflow store holds absolute artifact locations (experiments, runs, model
versions); a copy has them rewritten to the copy's folder, so the copy's runs and models are its own.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from spark_ml.config import Settings, load_settings
from tests.helpers import CONF, overrides_for


def copy_lakehouse(source: Path, target: Path) -> Path:
    """Copy a lakehouse root (tables, landing files, MLflow store) to `target` (which must not exist)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("logs", "_staging", "_warehouse"))
    store = target / "mlflow" / "mlflow.db"
    if store.exists():
        _rewrite_paths(store, str(source), str(target))
    return target


def _rewrite_paths(db: Path, old: str, new: str) -> None:
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")') if "CHAR" in r[2] or "TEXT" in r[2]]
            for column in columns:
                con.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) WHERE instr("{column}", ?) > 0',
                    (old + "/", new + "/", old + "/"),
                )


def settings_for(root: Path, *extra: str, conf_dir: Path = CONF) -> Settings:
    return load_settings("local", conf_dir, overrides_for(root, *extra))
