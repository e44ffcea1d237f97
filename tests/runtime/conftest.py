"""Runtime fixtures: the built wheel, and a fresh virtual environment with it installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO

# The bundle checks shared by the bundle tests assert in tests/bundle.py: rewrite those asserts too,
# so a failure shows the values compared.
pytest.register_assert_rewrite("tests.bundle")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build --wheel` of this checkout, built once per session."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("*.whl")
    return built


@dataclass(frozen=True)
class Installed:
    """A virtual environment outside the repository with the wheel and its `local,demo` extras."""

    venv: Path
    wheel: Path
    workdir: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    @property
    def spark_home(self) -> Path:
        out = subprocess.run(
            [str(self.python), "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"],
            check=True,
            capture_output=True,
            text=True,
        )
        return Path(out.stdout.strip())

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_", "VIRTUAL_ENV"))}
        env.update(
            PATH=f"{self.venv / 'bin'}:{env.get('PATH', '')}",
            PYSPARK_PYTHON=str(self.python),
            SPARK_LOCAL_IP="127.0.0.1",
        )
        return env

    def run(self, *args: str, timeout: int = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [str(a) for a in args], cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if check and out.returncode != 0:
            raise AssertionError(f"{args[0]} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
        return out


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """uv creates the venv and installs `<wheel>[local,demo]` from PyPI (a warm uv cache makes it fast)."""
    base = tmp_path_factory.mktemp("installed")
    venv, workdir = base / "venv", base / "work"
    workdir.mkdir()
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), f"{wheel}[local,demo]"],
        check=True,
        timeout=900,
    )
    return Installed(venv, wheel, workdir)
