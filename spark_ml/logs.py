"""Logging and the console: a quiet terminal, a full log file, secrets redacted everywhere.

The console shows what a person running a command needs: the progress lines of `spark_ml.progress`
(plain text, one per step), spark-ml's own warnings and errors, and what the command prints at the
end. Everything else (INFO records of spark_ml, every library's records, Python warnings) goes to
the log file only. `verbose` brings every record at the configured level back to the console;
`quiet` keeps only errors (the command's final summary is still printed).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from spark_ml.config.secrets import redact

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
HANDLER_PREFIX = "spark_ml."  # names of the handlers configure_logging installs (replaced on a second call)
PROGRESS = "spark_ml.progress"
Verbosity = Literal["quiet", "normal", "verbose"]
# Libraries whose INFO records are noise even in the log file.
NOISY = ("py4j", "urllib3", "alembic", "mlflow.store", "matplotlib", "PIL", "git", "asyncio")

progress = logging.getLogger(PROGRESS)


class RedactSecrets(logging.Filter):
    """Replaces every known secret value in a log record's message by '***'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = redact(message, self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = redact(str(record.exc_info[1]), self.secrets)
            if text != str(record.exc_info[1]):
                record.exc_info, record.exc_text = None, None
                record.msg = f"{record.msg} ({text})"
        return True


class _Console(logging.Filter):
    """What reaches the terminal (besides progress lines) at each verbosity."""

    def __init__(self, verbosity: Verbosity, level: int) -> None:
        super().__init__()
        self.verbosity, self.level = verbosity, level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == PROGRESS:
            return False
        ours = record.name == "spark_ml" or record.name.startswith("spark_ml.")
        if self.verbosity == "verbose":
            return record.levelno >= self.level
        if self.verbosity == "quiet":
            return ours and record.levelno >= logging.ERROR
        return ours and record.levelno >= max(self.level, logging.WARNING)


def _is_progress(record: logging.LogRecord) -> bool:
    return record.name == PROGRESS


def configure_logging(
    level: str = "INFO",
    secrets: Iterable[str] = (),
    log_file: str | None = None,
    verbosity: Verbosity = "normal",
) -> None:
    """Configure the root logger for one command: the console as the module docstring says, and
    every record (spark_ml at DEBUG, libraries at INFO) in `log_file`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if (handler.get_name() or "").startswith(HANDLER_PREFIX):
            root.removeHandler(handler)
            handler.close()
    redactor = RedactSecrets(secrets)
    numeric = logging.getLevelName(level)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter(FORMAT))
    console.addFilter(_Console(verbosity, numeric))
    lines = logging.StreamHandler(sys.stdout)
    lines.setFormatter(logging.Formatter("%(message)s"))
    lines.addFilter(_is_progress)
    lines.setLevel(logging.ERROR if verbosity == "quiet" else logging.INFO)
    handlers: list[logging.Handler] = [console, lines]
    if log_file:
        try:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError:
            pass
        else:
            file_handler.setFormatter(logging.Formatter(FORMAT))
            handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(redactor)
        handler.set_name(f"{HANDLER_PREFIX}{len(root.handlers)}")
        root.addHandler(handler)
    root.setLevel(min(logging.INFO, numeric))
    logging.getLogger("spark_ml").setLevel(logging.DEBUG)
    progress.setLevel(logging.INFO)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)  # Python warnings (deprecations, library hints) become log records


def text_table(rows: Iterable[Sequence[str]], header: Sequence[str] = (), indent: str = "") -> list[str]:
    """Rows (and a header, when given) as left-aligned columns two spaces apart, trailing spaces
    cut: how commands print a table on the console."""
    lines = [list(header), *map(list, rows)] if header else [list(r) for r in rows]
    if not lines:
        return []
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(max(map(len, lines)))]
    return [(indent + "  ".join(c.ljust(widths[i]) for i, c in enumerate(line))).rstrip() for line in lines]
