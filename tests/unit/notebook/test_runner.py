"""`spark-ml notebook run`: tiny notebooks (no Spark) in a real kernel of this interpreter."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from spark_ml import cli
from spark_ml.notebook.runner import first_difference, normalize
from tests.unit.notebook.fixture_spec import FIXTURES_DIR


def stdout(text: str) -> Any:
    return new_output("stream", name="stdout", text=text)


def write(path: Path, *cells: Any) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = list(cells)
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path


@pytest.mark.system
def test_run_passes_and_outputs_match_after_normalizing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kernel_name: str
) -> None:
    folder = os.path.realpath(tmp_path)
    random_cell = new_code_cell("import random\nprint(random.random())", execution_count=12, outputs=[stdout("0.5\n")])
    random_cell.metadata["tags"] = ["nbval-ignore-output"]
    path = write(
        tmp_path / "ok.ipynb",
        new_markdown_cell("# Runs"),
        new_code_cell(
            f"import os, sys\nassert sys.prefix == {sys.prefix!r}, sys.prefix\n"
            f"assert os.path.realpath(os.getcwd()) == {folder!r}",
            execution_count=7,
        ),
        new_code_cell('print("hello")', execution_count=8, outputs=[stdout("hello\n")]),
        new_code_cell("print(object())", execution_count=9, outputs=[stdout("<object object at 0x7f00deadbeef>\n")]),
        new_code_cell(
            "1 + 1",
            execution_count=10,
            outputs=[new_output("execute_result", data={"text/plain": "2"}, execution_count=10)],
        ),
        new_code_cell('import sys\nprint("noise", file=sys.stderr)', execution_count=11),
        random_cell,
    )
    before = path.read_bytes()
    code = cli.main(["notebook", "run", str(path), "--compare", "--kernel", kernel_name])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith(f"{path}: ran 6 code cells top to bottom in ")
    assert out.endswith(": ok\n")
    assert path.read_bytes() == before  # the file is never modified


@pytest.mark.system
def test_run_reports_the_first_differing_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kernel_name: str
) -> None:
    path = write(
        tmp_path / "differs.ipynb",
        new_code_cell('print("same")', execution_count=1, outputs=[stdout("same\n")]),
        new_code_cell('print("hallo")', execution_count=2, outputs=[stdout("hello\n")]),
        new_code_cell('print("also different")', execution_count=3, outputs=[stdout("other\n")]),
    )
    assert cli.main(["notebook", "run", str(path), "--kernel", kernel_name]) == 0
    code = cli.main(["notebook", "run", str(path), "--compare", "--kernel", kernel_name])
    out = capsys.readouterr().out.splitlines()[-1]
    assert code == 1
    assert out.endswith("outputs differ from the saved ones at cell 2: saved 'stdout: hello', now 'stdout: hallo'")


@pytest.mark.system
def test_run_reports_the_failing_cell(capsys: pytest.CaptureFixture[str], tmp_path: Path, kernel_name: str) -> None:
    path = write(
        tmp_path / "fails.ipynb",
        new_code_cell("x = 1"),
        new_markdown_cell("a note"),
        new_code_cell("y = undefined_name + x"),
        new_code_cell("z = 3"),
    )
    code = cli.main(["notebook", "run", str(path), "--kernel", kernel_name])
    assert code == 1
    assert capsys.readouterr().out == f"{path}: cell 3 failed: NameError: name 'undefined_name' is not defined\n"


@pytest.mark.system
def test_run_reports_a_cell_timeout(capsys: pytest.CaptureFixture[str], tmp_path: Path, kernel_name: str) -> None:
    path = write(tmp_path / "slow.ipynb", new_code_cell("x = 1"), new_code_cell("import time\ntime.sleep(30)"))
    code = cli.main(["notebook", "run", str(path), "--timeout", "1", "--kernel", kernel_name])
    assert code == 1
    assert capsys.readouterr().out == f"{path}: cell 2 failed: timed out after 1 s\n"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (FIXTURES_DIR / "nb101_in_order.py", "is a Databricks source notebook: notebook run executes Jupyter .ipynb"),
        (Path("no/such/notebook.ipynb"), "no such file: no/such/notebook.ipynb"),
    ],
)
def test_run_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], target: Path, message: str) -> None:
    assert cli.main(["notebook", "run", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


def test_run_timeout_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["notebook", "run", str(FIXTURES_DIR / "nb101_in_order.ipynb"), "--timeout", "0"]) == 2
    assert capsys.readouterr().err == "spark-ml notebook: error: --timeout must be at least 1 second, got 0\n"


def test_run_with_an_unknown_kernel_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "k.ipynb", new_code_cell("x = 1"))
    assert cli.main(["notebook", "run", str(path), "--kernel", "no-such-kernel"]) == 2
    assert "no Jupyter kernel named 'no-such-kernel'" in capsys.readouterr().err


def test_normalize_volatile_output() -> None:
    text = "\x1b[31m<Foo at 0x7f3a2b1c>\x1b[0m 2024-05-01T10:00:00.123Z 123e4567-e89b-12d3-a456-426614174000  \n"
    assert normalize(text) == "<Foo at 0x...> <timestamp> <uuid>"
    assert normalize("CPU times: user 5 ms\nWall time: 1.2 s\n") == "CPU times: <timing>\nWall time: <timing>"


def test_first_difference_ignores_counts_metadata_and_images() -> None:
    saved = new_code_cell("x", execution_count=3)
    saved.outputs = [
        new_output(
            "execute_result", data={"text/plain": "1", "image/png": "AAAA"}, execution_count=3, metadata={"a": 1}
        )
    ]
    again = new_code_cell("x", execution_count=1)
    again.outputs = [new_output("execute_result", data={"text/plain": "1", "image/png": "BBBB"}, execution_count=1)]
    assert first_difference([saved], [again]) is None
    again.outputs[0]["data"]["text/plain"] = "2"
    assert first_difference([saved], [again]) == (1, "saved 'text/plain: 1', now 'text/plain: 2'")
