"""The docs cannot rot: every command in a ```bash block of README.md and docs/*.md is checked
against the code here, and is run by the test named for it in EXERCISED.

Checked here (no Spark): a `make` target exists in the Makefile; a `spark-ml` command line parses
with today's parser, and its `--env`/`--set` load as configuration; a script, notebook or path it
names exists (or is one the scaffold writes); a heredoc of Python compiles and imports what exists.
Run elsewhere: EXERCISED maps each command to the test (its node id) that executes it, and that
test or a fixture it requests must contain the command's words (a renamed or deleted test fails
here); RUN_BY_SCRIPT names the script that runs the commands that run the tests themselves.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from spark_ml.cli import build_parser
from spark_ml.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
HEREDOC = re.compile(r"<<-?'?(\w+)'?")
# What `spark-ml new usecase churn` writes (spark_ml/scaffold/usecase.py).
SCAFFOLDED = {
    "conf_churn",
    "tests/unit/features/test_churn.py",
    "notebooks/churn.ipynb",
    "spark_ml/features/churn.py",
    "resources/churn.job.yml",
    "resources/churn_serverless.job.yml",
}
SHELL = {"export", "source", ".", "git", "rm", "cd"}
# The command (its first words) -> the test that runs it (a node id: file::function) and a string
# that the test, or a fixture it requests, must contain. A renamed or deleted test fails here.
EXERCISED: dict[str, tuple[str, str]] = {
    "make run": ("tests/matrix/test_runtimes.py::test_the_pipeline_on_each_runtime_matches_the_reference", "pipeline"),
    "make wheel": ("tests/runtime/test_wheel_metadata.py::test_wheel_is_pure_python_with_the_single_version", "build"),
    "spark-ml pipeline": (
        "tests/integration/test_ml_lifecycle.py::test_a_second_use_case_runs_from_configuration_alone",
        "pipeline.run",
    ),
    "spark-ml features": (
        "tests/integration/test_crash_and_rerun.py::test_features_crash_keeps_the_feature_table",
        "features.run",
    ),
    "spark-ml land-demo-data": (
        "tests/runtime/test_installed_wheel.py::test_console_scripts_run_from_the_wheel_alone",
        "land-demo-data",
    ),
    "spark-ml config show": ("tests/unit/test_cli.py::test_config_show_prints_resolved_config", '"show"'),
    "spark-ml doctor": ("tests/integration/test_doctor.py::test_every_doctor_check_is_ok", "run_checks"),
    "spark-ml new usecase": (
        "tests/integration/test_new_usecase.py::test_a_scaffolded_use_case_passes_its_tests_and_runs_its_pipeline",
        '"usecase"',
    ),
    "spark-ml notebook check": (
        "tests/unit/notebook/test_cli.py::test_acceptance_out_of_order_notebook_with_a_global_reading_function",
        '"check"',
    ),
    "spark-ml notebook extract": (
        "tests/unit/notebook/test_extract.py::test_dry_run_prints_the_module_and_a_diff_and_writes_nothing",
        '"--dry-run"',
    ),
    "spark-ml notebook run": (
        "tests/unit/notebook/test_runner.py::test_run_passes_and_outputs_match_after_normalizing",
        '"notebook", "run"',
    ),
    "spark-ml spark-submit-args": (
        "tests/runtime/test_installed_wheel.py::test_spark_submit_runs_a_job",
        "spark-submit-args",
    ),
    "make dev-start": ("tests/runtime/test_dev_server.py::test_start_status_stop_leave_no_jvm", '"start"'),
    "spark-ml dev": ("tests/runtime/test_dev_server.py::test_start_status_stop_leave_no_jvm", '"dev"'),
    "spark-submit": ("tests/runtime/test_installed_wheel.py::test_spark_submit_runs_a_job", "spark-submit"),
    "spark-submit --class": ("tests/runtime/test_dev_server.py::test_start_status_stop_leave_no_jvm", "start"),
    "spark-class": (
        "tests/runtime/test_installed_wheel.py::test_a_standalone_cluster_runs_the_jobs_and_matches_local_mode",
        "Worker",
    ),
    "pytest": (
        "tests/integration/test_new_usecase.py::test_a_scaffolded_use_case_passes_its_tests_and_runs_its_pipeline",
        "pytest",
    ),
    "pytest --spark-connect": (
        "tests/runtime/test_dev_server.py::test_pytest_uses_the_running_dev_server",
        "--spark-connect",
    ),
    "python -m venv": ("tests/runtime/test_installed_wheel.py::test_console_scripts_run_from_the_wheel_alone", "venv"),
    "pip install": ("tests/runtime/test_installed_wheel.py::test_console_scripts_run_from_the_wheel_alone", "install"),
    "python -": (
        "tests/integration/test_new_usecase.py::test_a_scaffolded_use_case_passes_its_tests_and_runs_its_pipeline",
        "Lakehouse(spark, settings)",
    ),
    "python -c": (
        "tests/matrix/test_runtimes.py::test_the_pipeline_on_each_runtime_matches_the_reference",
        "pyspark.__file__",
    ),
    # No workspace is reachable from a test: the bundle these commands deploy is validated offline.
    "databricks": ("tests/runtime/test_bundle.py::test_the_merged_bundle_is_schema_valid", "validator"),
    "databricks bundle run churn_pipeline": (
        "tests/runtime/test_scaffold_bundle.py::test_the_two_variants_run_on_a_job_cluster_and_on_serverless",
        '"churn_pipeline"',
    ),
}
# Commands that no test can run (they run the tests): the script that runs them, and its line.
RUN_BY_SCRIPT: dict[str, tuple[str, str]] = {
    "make test": (".ci/run", "make test VENV"),
    "make test-system": (".ci/run", "make test-system"),
    "make test-compat": (".ci/run", "make test-compat"),
    "make test-runtimes": (".ci/run", "make test-runtimes"),
    "make test-fast": ("benchmarks/tests.py", '"test-fast"'),
    "make bench": ("Makefile", "-m benchmarks.run"),
}


@dataclass(frozen=True)
class Command:
    page: str
    words: list[str]
    heredoc: str | None = None

    @property
    def program(self) -> str:
        return Path(self.words[0]).name

    def __str__(self) -> str:
        return f"{self.page}: {' '.join(self.words)}"


def _without_substitutions(line: str) -> str:
    """`$(...)` (nested parentheses included) replaced by the word SUBSTITUTED."""
    out, depth = [], 0
    index = 0
    while index < len(line):
        if line.startswith("$(", index):
            if depth == 0:
                out.append("SUBSTITUTED")
            depth += 1
            index += 2
            continue
        char = line[index]
        if depth and char == "(":
            depth += 1
        elif depth and char == ")":
            depth -= 1
        elif not depth:
            out.append(char)
        index += 1
    return "".join(out)


def _split(line: str) -> list[list[str]]:
    """Simple commands of one logical line: comments dropped, `$(...)` kept as one word, split at
    `&&`, `;`, `|` and a trailing `&`; leading VAR=value assignments and redirections removed."""
    lexer = shlex.shlex(_without_substitutions(line), posix=True, punctuation_chars="&;|<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    tokens = list(lexer)
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token in {"&&", ";", "|", "&", "||"}:
            commands.append([])
        elif token in {">", ">>", "<", "<<"}:
            skip = True
        elif not commands[-1] and re.fullmatch(r"[A-Za-z_]\w*=.*", token):
            continue
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def commands() -> list[Command]:
    found: list[Command] = []
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        for block in FENCE.findall(page.read_text()):
            lines = block.replace("\\\n", " ").splitlines()
            index = 0
            while index < len(lines):
                line = lines[index]
                index += 1
                heredoc = HEREDOC.search(line)
                body = None
                if heredoc:
                    end = lines.index(heredoc.group(1), index)
                    body = "\n".join(lines[index:end])
                    index = end + 1
                    line = line[: heredoc.start()]
                for words in _split(line):
                    found.append(Command(name, words, body))
    return found


COMMANDS = commands()


def _exerciser(command: Command) -> str:
    text = " ".join([command.program, *command.words[1:]])
    keys = [*EXERCISED, *RUN_BY_SCRIPT]
    matches = [key for key in keys if text == key or text.startswith(key + " ")]
    assert matches, f"{command}: no test runs this command: add it to EXERCISED in {__file__}"
    return max(matches, key=len)


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def _sources(node_id: str) -> list[str]:
    """The source of the test `node_id` names and of the fixtures it requests (through conftest.py
    files up to tests/, two levels deep); an AssertionError when the file or the test is missing."""
    path_text, _, name = node_id.partition("::")
    path = ROOT / path_text
    assert path.is_file(), f"{node_id}: no such test file"
    found = _functions(path)
    assert name.startswith("test_"), f"{node_id}: not a test"
    assert name in found, f"{node_id}: no such test"
    scopes = [path, *[d / "conftest.py" for d in path.parents if d.is_relative_to(ROOT / "tests")]]
    known: dict[str, tuple[Path, ast.FunctionDef]] = {}
    for scope in reversed(scopes):
        if scope.is_file():
            known.update({n: (scope, f) for n, f in _functions(scope).items()})
    out, todo, seen = [], [(path, found[name], 0)], set()
    while todo:
        where, function, depth = todo.pop()
        out.append(ast.get_source_segment(where.read_text(), function) or "")
        for arg in function.args.args:
            if depth < 2 and arg.arg in known and arg.arg not in seen:
                seen.add(arg.arg)
                todo.append((*known[arg.arg], depth + 1))
    return out


def test_the_docs_have_commands_to_check() -> None:
    assert {c.page for c in COMMANDS} >= {"README.md", "docs/deployment.md", "docs/new-usecase.md"}
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.program not in SHELL], ids=str)
def test_each_command_is_run_by_a_test(command: Command) -> None:
    key = _exerciser(command)
    if key in RUN_BY_SCRIPT:
        script, line = RUN_BY_SCRIPT[key]
        assert line in (ROOT / script).read_text(), f"{command}: {script} no longer runs {line!r}"
        return
    node_id, needle = EXERCISED[key]
    assert any(needle in source for source in _sources(node_id)), f"{command}: {node_id} does not contain {needle!r}"


def test_a_missing_test_or_a_missing_needle_is_caught() -> None:
    with pytest.raises(AssertionError, match="no such test"):
        _sources("tests/unit/test_docs.py::test_that_was_renamed")
    with pytest.raises(AssertionError, match="no such test file"):
        _sources("tests/unit/test_gone.py::test_x")
    assert any(
        "_sources(" in source
        for source in _sources("tests/unit/test_docs.py::test_a_missing_test_or_a_missing_needle_is_caught")
    )


def _targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


def _exists(word: str) -> bool:
    return (ROOT / word).exists() or any(word == s or word.startswith(s + "/") for s in SCAFFOLDED)


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_each_command_matches_the_code(command: Command) -> None:
    program, args = command.program, command.words[1:]
    if program == "make":
        assert set(args) <= _targets(), f"{command}: no such Makefile target"
    elif program == "spark-ml":
        _check_spark_ml(command, args)
    elif program == "spark-submit" and "--class" in args:
        assert args[args.index("--class") + 1] == "org.apache.spark.sql.connect.service.SparkConnectServer"
    elif program in {"spark-submit", "pytest"}:
        paths = [a for a in args if a.endswith((".py", ".ipynb")) or a.startswith("tests/")]
        assert paths, f"{command}: names no script or test"
        assert all(_exists(p) for p in paths), f"{command}: {paths} not in the project"
    elif program == "python" and args[:1] == ["-"]:
        assert command.heredoc is not None
        compile(command.heredoc, str(command), "exec")
        for module in re.findall(r"^from ([\w.]+) import", command.heredoc, re.M):
            generated = module.replace(".", "/") + ".py" in SCAFFOLDED
            if generated:  # the scaffold's template defines what the heredoc imports from it
                names = re.findall(rf"^from {module} import (\w+)", command.heredoc, re.M)
                template = (ROOT / "spark_ml/scaffold/templates/feature_module.py.j2").read_text()
                assert all(f"def {name}" in template for name in names), f"{command}: {names} not scaffolded"
            assert generated or importlib.util.find_spec(module) is not None, f"{command}: no module {module}"
    elif program in {"git", "rm"}:
        paths = [a for a in args if "/" in a or "." in a]
        assert all(_exists(p) for p in paths), f"{command}: {paths} not in the project"


def _check_spark_ml(command: Command, args: list[str]) -> None:
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{command}: spark-ml does not accept these arguments (exit {exc.code})")
    conf_dir = getattr(parsed, "conf_dir", None)
    paths = [a for a in args if a.endswith((".ipynb", "/")) and not a.startswith("-")]
    assert all(_exists(p) for p in paths), f"{command}: {paths} not in the project"
    if conf_dir is None and hasattr(parsed, "env"):
        load_settings(parsed.env, overrides=_overrides(parsed))


def _overrides(parsed: argparse.Namespace) -> list[str]:
    return list(getattr(parsed, "overrides", None) or [])


def test_an_unknown_target_or_option_is_caught() -> None:
    """The checks above can fail: a made-up target and a made-up option are reported."""
    with pytest.raises(AssertionError, match="no such Makefile target"):
        test_each_command_matches_the_code(Command("x.md", ["make", "no-such-target"]))
    with pytest.raises(pytest.fail.Exception, match="does not accept"):
        test_each_command_matches_the_code(Command("x.md", ["spark-ml", "pipeline", "--no-such-option"]))
    with pytest.raises(AssertionError, match="no test runs this command"):
        _exerciser(Command("x.md", ["spark-ml", "unheard-of"]))
