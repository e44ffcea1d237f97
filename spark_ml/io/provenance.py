"""What produced a result: package, git commit and library versions of this process."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

from spark_ml import __version__


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout spark_ml runs from, None for an installed wheel."""
    package_dir = Path(__file__).resolve().parents[1]
    if not (package_dir.parent / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=package_dir.parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=package_dir.parent,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    return f"{commit}-dirty" if dirty else commit


def _dist_version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.cache
def versions() -> dict[str, str | None]:
    """spark_ml, pyspark, delta-spark and mlflow versions of this environment."""
    return {
        "spark_ml": __version__,
        "pyspark": _dist_version("pyspark", "databricks-connect"),
        "delta": _dist_version("delta-spark"),
        "mlflow": _dist_version("mlflow", "mlflow-skinny"),
    }
