"""`notebook run ORIGINAL --against OTHER` and `notebook extract --verify`: two runs in fresh kernels,
what they show and write compared.

The `system` tests start kernels (each starts a local Spark with Delta: tens of seconds on a busy
machine), so they share module-scoped workspaces: the `steps` corpus notebook, extracted with
`--verify` once per format (with `--job` in the Databricks one). In the .ipynb workspace the
generated module is then edited twice: a changed comparison (`>` to `>=`: the 15-minute edge row
becomes late) must make `--against` exit 1 naming the output and the table, and a changed module
constant the notebook overrides (it passes `threshold=THRESHOLD`) must not. The widgets_sql notebook
runs in both formats (`slow`). The usage errors and the wording of differences are checked without
a kernel.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spark_ml import cli
from spark_ml.errors import ConfigError
from spark_ml.notebook import cli as notebook_cli
from spark_ml.notebook.compare import Capture, Comparison, check_pair, differences, notebook_cells
from tests.unit.notebook.extract_spec import CORPUS_SEED, EXTRACT_DIR

SEED = CORPUS_SEED
LATE_BY_CARRIER = "table silver.late_by_carrier"


def workspace(folder: Path, name: str) -> Path:
    """A project folder holding a copy of the corpus notebook and the seed script."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seed.py").write_text(SEED, encoding="utf-8")
    return Path(shutil.copy(EXTRACT_DIR / name, folder / name))


def extract_verify(notebook: Path, kernel: str, *extra: str) -> list[str]:
    root = notebook.parent
    return [
        "notebook",
        "extract",
        str(notebook),
        "--module",
        "flights_pkg.steps",
        "--root",
        str(root),
        "--verify",
        "--setup",
        str(root / "seed.py"),
        "--kernel",
        kernel,
        *extra,
    ]


def run_extract_verify(
    fmt: str, tmp_path_factory: pytest.TempPathFactory, kernel: str, *extra: str
) -> tuple[Path, int, str, str]:
    import contextlib
    import io

    notebook = workspace(tmp_path_factory.mktemp(f"steps_{fmt}"), f"steps.{fmt}")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(extract_verify(notebook, kernel, *extra))
    return notebook, code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def steps_ipynb(tmp_path_factory: pytest.TempPathFactory, kernel_name: str) -> tuple[Path, int, str, str]:
    return run_extract_verify("ipynb", tmp_path_factory, kernel_name)


@pytest.fixture(scope="module")
def steps_py(tmp_path_factory: pytest.TempPathFactory, kernel_name: str) -> tuple[Path, int, str, str]:
    """The job is generated from the steps, whatever the notebook's format: verified once, here."""
    return run_extract_verify("py", tmp_path_factory, kernel_name, "--job", "late_flights")


@pytest.mark.system
@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["steps_ipynb", "steps_py"])
def test_extract_verify_passes_for_the_notebook_and_its_job(request: pytest.FixtureRequest, fixture: str) -> None:
    notebook, code, out, err = request.getfixturevalue(fixture)
    assert code == 0, out + err
    lines = out.splitlines()
    job = notebook.suffix == ".py"
    assert lines[-3 - job].startswith(f"original {notebook.name}: ran 7 code cells in ")
    assert lines[-2 - job].startswith(f"rewritten steps.extracted{notebook.suffix}: ran ")
    if job:
        assert lines[-2].startswith("job late_flights.py: ran 1 code cells in ")
    # two displays; bronze.flights, bronze.carriers and the two silver tables
    assert lines[-1] == "the same: 2 outputs, 4 tables, 0 files written compared"
    assert (notebook.parent / "jobs" / "late_flights.py").is_file() == job


def against(notebook: Path, kernel: str) -> list[str]:
    rewritten = notebook.with_name(f"{notebook.stem}.extracted{notebook.suffix}")
    root = notebook.parent
    return [
        "notebook",
        "run",
        str(notebook),
        "--against",
        str(rewritten),
        "--root",
        str(root),
        "--setup",
        str(root / "seed.py"),
        "--kernel",
        kernel,
    ]


@pytest.mark.system
@pytest.mark.slow
def test_a_changed_module_makes_the_comparison_fail_naming_output_and_table(
    steps_ipynb: tuple[Path, int, str, str], kernel_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook, code, out, _ = steps_ipynb
    assert code == 0, out
    module = notebook.parent / "flights_pkg" / "steps.py"
    text = module.read_text(encoding="utf-8")
    assert 'F.col("arr_delay") > threshold' in text
    module.write_text(text.replace('F.col("arr_delay") > threshold', 'F.col("arr_delay") >= threshold'), "utf-8")
    try:
        code = cli.main(against(notebook, kernel_name))
    finally:
        module.write_text(text, encoding="utf-8")
    shown = capsys.readouterr().out
    assert code == 1, shown
    differs = shown.split("differs:\n", 1)[1].splitlines()
    flights = "struct<flight_date:string,cancelled:int,arr_delay:double,carrier:string,origin:string,dest:string>"
    assert differs[0] == (
        f"  output 2 differs: the original's cell 9 shows 'stdout: {flights}: 2 rows', "
        f"rewritten steps.extracted.ipynb's cell 9 shows 'stdout: {flights}: 3 rows'"
    )
    assert differs[1] == f"  {LATE_BY_CARRIER}: 1 rows in the original, 2 in rewritten steps.extracted.ipynb"
    assert len(differs) == 2  # route_counts and the inputs are the same


@pytest.mark.system
@pytest.mark.slow
def test_a_module_change_the_notebook_does_not_depend_on_passes(
    steps_ipynb: tuple[Path, int, str, str], kernel_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The module's THRESHOLD is only the parameter's default: the notebook passes its own."""
    notebook, code, out, _ = steps_ipynb
    assert code == 0, out
    module = notebook.parent / "flights_pkg" / "steps.py"
    text = module.read_text(encoding="utf-8")
    assert "\nTHRESHOLD = 15\n" in text
    module.write_text(text.replace("\nTHRESHOLD = 15\n", "\nTHRESHOLD = 99\n"), "utf-8")
    try:
        code = cli.main(against(notebook, kernel_name))
    finally:
        module.write_text(text, encoding="utf-8")
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert shown.endswith("the same: 2 outputs, 4 tables, 0 files written compared\n")


@pytest.mark.system
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "fmt", "widgets", "outputs", "tables"),
    [
        # Every runnable corpus notebook once (about 90 s each: two Spark kernels on two cores), in
        # both formats where the format changes what runs: the %%sql magic and the Databricks %sql
        # cell. The steps notebook runs in both formats above.
        ("widgets_sql", "ipynb", ["--widget", "run_date=2013-01-02"], 2, 2),  # the %sql count and the display
        ("widgets_sql", "py", ["--widget", "run_date=2013-01-02"], 2, 2),
        ("late_flights", "ipynb", [], 1, 2),  # functions reading globals of each kind, the display
        ("udf_dict", "py", [], 1, 2),  # a UDF closing over a dict: Spark's Python workers import the module
    ],
)
def test_extract_verify_passes_for_the_other_runnable_corpus_notebooks(
    tmp_path: Path,
    kernel_name: str,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    name: str,
    widgets: list[str],
    outputs: int,
    tables: int,
) -> None:
    notebook = workspace(tmp_path, f"{name}.{fmt}")
    code = cli.main(extract_verify(notebook, kernel_name, *widgets))
    shown = capsys.readouterr()
    assert code == 0, shown.out + shown.err
    assert shown.out.endswith(f"the same: {outputs} outputs, {tables} tables, 0 files written compared\n")


# -- without a kernel ---------------------------------------------------------------------------------


def test_usage_errors_of_against(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ipynb = EXTRACT_DIR / "steps.ipynb"
    py = EXTRACT_DIR / "steps.py"
    cases = [
        (["--against", str(tmp_path / "missing.ipynb")], "no such notebook: "),
        (["--against", str(py)], "are notebooks of two formats (.ipynb, .py): compare a notebook with its rewrite"),
        (["--against", str(ipynb), "--compare"], "--compare (with the saved outputs) and --against OTHER cannot"),
        (["--setup", str(tmp_path / "seed.py")], "--setup only apply with --against"),
        (["--against", str(ipynb), "--widget", "run_date"], "--widget 'run_date': expected NAME=VALUE"),
        (["--against", str(ipynb), "--setup", str(tmp_path / "seed.py")], "--setup "),
    ]
    for extra, message in cases:
        assert cli.main(["notebook", "run", str(ipynb), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err, (extra, err)
    text = (tmp_path / "plain.py").write_text("print(1)\n", encoding="utf-8")
    assert text
    with pytest.raises(ConfigError, match=r"plain\.py is not a notebook \(\.ipynb or Databricks source \.py\)"):
        check_pair(tmp_path / "plain.py", py)


def test_verify_cannot_be_combined_with_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = workspace(tmp_path, "steps.py")
    args = ["notebook", "extract", str(notebook), "--module", "flights_pkg.steps", "--root", str(tmp_path)]
    assert cli.main([*args, "--verify", "--dry-run"]) == 2
    assert "--verify runs what extract writes: it cannot be combined with --dry-run" in capsys.readouterr().err
    assert cli.main([*args, "--widget", "run_date=2013-01-01"]) == 2
    assert "--widget only applies with --capture or --verify" in capsys.readouterr().err
    assert cli.main([*args, "--setup", str(notebook)]) == 2
    assert "--setup and --kernel only apply with --capture or --verify" in capsys.readouterr().err
    assert not (tmp_path / "steps.extracted.py").exists()


def test_verify_exits_1_naming_the_difference_and_keeps_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's side of --verify, with the comparison replaced (the kernels are the system tests')."""
    notebook = workspace(tmp_path, "steps.py")
    compared: list[tuple[Path, Path, Path | None]] = []

    def compare_runs(original: Path, other: Path, options: object, *, job: Path | None = None) -> Comparison:
        compared.append((original, other, job))
        first, second = Capture("original steps.py"), Capture("rewritten steps.extracted.py")
        return Comparison(first, [second], [f"{LATE_BY_CARRIER}: 1 rows in the original, 2 in rewritten"])

    monkeypatch.setattr(notebook_cli, "compare_runs", compare_runs)
    code = cli.main([*extract_verify(notebook, "python3"), "--job", "late"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"differs:\n  {LATE_BY_CARRIER}: 1 rows in the original, 2 in rewritten\n" in out
    assert out.endswith(
        "the written files are kept: compare them with the original, fix, and extract again with --force\n"
    )
    extracted = tmp_path / "steps.extracted.py"
    assert compared == [(notebook, extracted, tmp_path / "jobs" / "late.py")]
    assert extracted.is_file()
    assert (tmp_path / "flights_pkg" / "steps.py").is_file()


def test_differences_are_named() -> None:
    original = Capture(
        "original a.ipynb",
        outputs=[(2, "stdout: 3 rows"), (4, "stdout: done")],
        tables={
            "table silver.t": {
                "schema": "struct<a:int>",
                "rows": 2,
                "checksum": None,
                "sample": ['{"a":1}', '{"a":2}'],
            },
            "table silver.big": {"schema": "struct<a:int>", "rows": 5000, "checksum": "17", "sample": None},
            "delta folder work/out": {"schema": "struct<a:int>", "rows": 0, "checksum": None, "sample": []},
        },
        files={"out/report.csv": "ab" * 32},
    )
    same = Capture("rewritten a.extracted.ipynb", outputs=[(1, "stdout: 3 rows"), (2, "stdout: done")])
    same.tables, same.files = dict(original.tables), dict(original.files)
    assert differences(original, same) == []
    other = Capture(
        "rewritten a.extracted.ipynb",
        outputs=[(1, "stdout: 3 rows"), (2, "stdout: not done")],
        tables={
            "table silver.t": {
                "schema": "struct<a:int>",
                "rows": 2,
                "checksum": None,
                "sample": ['{"a":1}', '{"a":3}'],
            },
            "table silver.big": {"schema": "struct<a:int>", "rows": 5000, "checksum": "18", "sample": None},
            "table silver.new": {"schema": "struct<a:int>", "rows": 0, "checksum": None, "sample": []},
        },
        files={"out/report.csv": "cd" * 32, "out/extra.txt": "ef" * 32},
    )
    assert differences(original, other) == [
        "output 2 differs: the original's cell 4 shows 'stdout: done', rewritten a.extracted.ipynb's cell 2 shows "
        "'stdout: not done'",
        "delta folder work/out: written by the original only",
        "table silver.big: 5000 rows in both, but not the same rows (order-independent checksums differ)",
        "table silver.new: written by rewritten a.extracted.ipynb only",
        'table silver.t: row {"a":2} in the original only, row {"a":3} in rewritten a.extracted.ipynb only '
        "(1 rows differ)",
        "file out/extra.txt: not written by the original, written (sha256 efefefefefef) by rewritten a.extracted.ipynb",
        "file out/report.csv: written (sha256 abababababab) by the original, written (sha256 cdcdcdcdcdcd) by "
        "rewritten a.extracted.ipynb",
    ]
    fewer = Capture("rewritten a.extracted.ipynb", outputs=[(1, "stdout: 3 rows")])
    fewer.tables, fewer.files = original.tables, original.files
    assert differences(original, fewer) == [
        "rewritten a.extracted.ipynb shows nothing after output 1; the original's cell 4 shows 'stdout: done'"
    ]
    schema = Capture(
        "job j.py",
        tables={
            **original.tables,
            "table silver.t": {**original.tables["table silver.t"], "schema": "struct<a:bigint>"},
        },
    )
    schema.files = original.files
    assert differences(original, schema, outputs=False) == [
        "table silver.t: schema struct<a:int> in the original, struct<a:bigint> in job j.py"
    ]


def test_a_databricks_notebook_becomes_jupyter_cells_with_the_same_numbers(tmp_path: Path) -> None:
    cells = notebook_cells(EXTRACT_DIR / "widgets_sql.py")
    assert [(c.cell_type, c.source) for c in cells] == [
        ("markdown", "# Flights of one day"),
        ("code", 'from pyspark.sql import functions as F\n\nrun_date = dbutils.widgets.get("run_date")'),
        ("code", "%%sql\nSELECT count(*) AS n FROM bronze.flights"),
        ("code", 'def on_run_date(frame):\n    return frame.filter(F.col("flight_date") == run_date)'),
        ("code", 'flights = spark.table("bronze.flights")\ndisplay(on_run_date(flights))'),
    ]
    scala = tmp_path / "scala.py"
    scala.write_text("# Databricks notebook source\n# MAGIC %scala\n# MAGIC val x = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cell 1 is a scala cell: a compared run executes Python, %sql and %sh"):
        notebook_cells(scala)
