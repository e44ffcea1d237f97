"""Notebook hygiene: `spark-ml notebook check` (static, never executes code), `notebook run`, and
`notebook extract` (a notebook's functions into a module).

    from spark_ml.notebook import check_paths
    report = check_paths(["notebooks/"])
    print(report.text())

Reads Jupyter .ipynb files (nbformat, from the `notebook` extra) and Databricks source-format .py
notebooks. No Spark needed: nothing here imports pyspark.

    model.py            notebooks, cells, magics, rule info, hits and findings (cell numbers, cell lines)
    readers.py          .ipynb and Databricks .py into a Notebook; magics recorded and replaced by no-ops
    scopes.py           the name-resolution engine: per cell and per function, the names read and bound
    analysis.py         what every rule gets: parsed cells, options, and views of the name facts
    rules.py            the rule registry (ids, names, severities) and which check reports which rules
    rules_execution.py  NB101-NB103: saved execution counts
    rules_state.py      NB201, NB301, NB302: hidden state between cells
    rules_names.py      NB202: names no cell defines
    rules_code.py       NB401, NB402: long definitions, copies of package code
    rules_smells.py     NB501, NB503, NB504: unbounded collect, absolute paths, %run
    rules_secrets.py    NB502: hard-coded secrets
    rules_random.py     NB505: unseeded randomness
    checker.py          `notebook check`: run the enabled rules, apply severities, the exit code
    sarif.py            findings as SARIF 2.1.0
    runner.py           `notebook run`: execute top to bottom in a fresh kernel, compare outputs
    compare.py          `notebook run --against`, `extract --verify`: two isolated runs, outputs, tables, files
    extract.py          `notebook extract`: refuse what would not run, plan, render, write the outputs
    extract_plan.py     what moves: each def's notebook globals as parameters, constants, imports, `spark`
    extract_rewrite.py  the text written: the module (ruff-formatted signatures, imports), the new notebook
    extract_steps.py    top-level sections under headings that turn DataFrames into DataFrames, as functions
    extract_job.py      `--job NAME`: jobs/NAME.py, the notebook's reads, the module's calls and its writes
    extract_tests.py    the test file: a skeleton per function, or a characterization test from a capture
    extract_capture.py  `--capture`: run the notebook once in a kernel, record each function's sampled calls
    capture_kernel.py   the code sent into that kernel (imports neither pyspark nor spark_ml)
    cli.py              the `spark-ml notebook` commands
    settings.py         the `notebook` section of the settings

May import: config, errors, nbformat/nbclient (never pyspark, io, tasks or cli).
"""

from __future__ import annotations

from spark_ml.notebook.checker import CheckConfig, Report, check_file, check_notebook, check_paths
from spark_ml.notebook.model import Finding, Notebook
from spark_ml.notebook.readers import discover, read_notebook
from spark_ml.notebook.rules import RULES
from spark_ml.notebook.runner import RunResult, run_notebook

__all__ = [
    "RULES",
    "CheckConfig",
    "Finding",
    "Notebook",
    "Report",
    "RunResult",
    "check_file",
    "check_notebook",
    "check_paths",
    "discover",
    "read_notebook",
    "run_notebook",
]
