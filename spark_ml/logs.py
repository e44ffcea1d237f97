"""Logging: one format, a level from config or --log-level, secrets redacted from every record."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from spark_ml.config.secrets import redact

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
HANDLER_PREFIX = "spark_ml."  # names of the handlers configure_logging installs (replaced on a second call)


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


def configure_logging(level: str = "INFO", secrets: Iterable[str] = (), log_file: str | None = None) -> None:
    """Configure the root logger once per process: stderr at `level`, and a DEBUG log file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if (handler.get_name() or "").startswith(HANDLER_PREFIX):
            root.removeHandler(handler)
    redactor = RedactSecrets(secrets)
    stream = logging.StreamHandler()
    stream.setLevel(level)
    handlers: list[logging.Handler] = [stream]
    if log_file:
        try:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
            file_handler.setLevel(logging.DEBUG)
            handlers.append(file_handler)
        except OSError:
            pass
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(redactor)
        handler.set_name(f"{HANDLER_PREFIX}{len(root.handlers)}")
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if log_file else level)
    for noisy in ("py4j", "urllib3", "alembic", "mlflow.store", "matplotlib", "PIL", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
