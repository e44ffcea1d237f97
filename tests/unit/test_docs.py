"""The docs cannot rot: every command in a ```bash block of README.md and docs/*.md is checked
against the code here, and is run by the test named for it in EXERCISED.

Checked here (no Spark): a `make` target exists in the Makefile; a `spark-ml` command line parses
with today's parser, and its `--env`/`--set` load as configuration; a script, notebook or path it
names exists (or is one the scaffold writes); a heredoc of Python compiles and imports what exists.
Run elsewhere: EXERCISED maps each command to the test file that executes it, and that file must
contain the command's words (a renamed or deleted test fails here).
"""

from __future__ import annotations

import argparse
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
SCAFFOLDED = {"conf_churn", "tests/unit/features/test_churn.py", "notebooks/churn.ipynb", "spark_ml/features/churn.py"}
SHELL = {"export", "source", ".", "git", "rm", "cd"}
# The command (its first words) -> the test file that runs it, and a string that file must contain.
EXERCISED: dict[str, tuple[str, str]] = {
    "make run": ("tests/integration/test_pipeline_slice.py", '"pipeline"'),
    "make test": (".ci/run", "make test"),
    "make wheel": ("tests/runtime/conftest.py", "build"),
    "spark-ml pipeline": ("tests/integration/test_pipeline_slice.py", '"pipeline"'),
    "spark-ml features": ("tests/integration/test_crash_and_rerun.py", "features"),
    "spark-ml land-demo-data": ("tests/matrix/test_runtimes.py", '"land-demo-data"'),
    "spark-ml config show": ("tests/unit/test_cli.py", '"show"'),
    "spark-ml doctor": ("tests/integration/test_doctor.py", "doctor"),
    "spark-ml new usecase": ("tests/integration/test_new_usecase.py", '"usecase"'),
    "spark-ml notebook check": ("tests/unit/notebook/test_cli.py", '"check"'),
    "spark-ml notebook run": ("tests/unit/notebook/test_runner.py", '"notebook", "run"'),
    "spark-ml spark-submit-args": ("tests/runtime/test_installed_wheel.py", "spark-submit-args"),
    "spark-submit": ("tests/runtime/test_installed_wheel.py", "spark-submit"),
    "spark-submit --class": ("tests/connect_server.py", "SparkConnectServer"),
    "spark-class": ("tests/runtime/test_installed_wheel.py", "deploy.worker.Worker"),
    "pytest": ("tests/integration/test_new_usecase.py", "pytest"),
    "python -m venv": ("tests/runtime/conftest.py", "venv"),
    "pip install": ("tests/runtime/conftest.py", "install"),
    "python -": ("tests/integration/test_new_usecase.py", "Lakehouse(spark, settings)"),
    "python -c": ("tests/matrix/test_runtimes.py", "pyspark.__file__"),
    # No workspace is reachable from a test: the bundle these commands deploy is validated offline.
    "databricks": ("tests/runtime/test_bundle.py", "databricks"),
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
    matches = [key for key in EXERCISED if text == key or text.startswith(key + " ")]
    assert matches, f"{command}: no test runs this command: add it to EXERCISED in {__file__}"
    return max(matches, key=len)


def test_the_docs_have_commands_to_check() -> None:
    assert {c.page for c in COMMANDS} >= {"README.md", "docs/deployment.md", "docs/new-usecase.md"}
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.program not in SHELL], ids=str)
def test_each_command_is_run_by_a_test(command: Command) -> None:
    path, needle = EXERCISED[_exerciser(command)]
    assert needle in (ROOT / path).read_text(), f"{command}: {path} no longer contains {needle!r}"


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
