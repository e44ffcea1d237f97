"""Where a run ran: the Spark master or the Spark Connect remote, the application, its executors.

Recorded in every manifest (the runs table's `compute` column) and shown by `spark-ml lineage`, so
a table built on a standalone cluster says so. A remote URL's credentials (a `token=` or other
secret parameter, a password in `user:password@`) are masked before anything is recorded.
Over Spark Connect the client sees no SparkContext: the master and application id come from the
server's configuration when it shares them, the executor counts are not known (None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from spark_ml.config.secrets import MASK

SECRET_PARAMETER = re.compile(r"(?i)(;\s*(?:token|password|secret|[a-z_-]*key)\s*=)[^;]*")
USER_PASSWORD = re.compile(r"(//[^/:@;]+:)[^@/;]*@")


@dataclass(frozen=True)
class Compute:
    """master: spark.master (local[2], spark://host:7077, ...); remote: the Spark Connect URL;
    executors: executor processes besides the driver (0 in local mode); cores: task slots in all."""

    master: str | None = None
    remote: str | None = None
    app_id: str | None = None
    executors: int | None = None
    cores: int | None = None

    def text(self) -> str:
        """'spark://127.0.0.1:7077 (app app-20261202-0001, 2 executors, 2 cores)'."""
        where = self.remote or self.master or "unknown"
        parts = [f"app {self.app_id}"] if self.app_id else []
        if self.executors is not None:
            parts.append("in the driver" if self.executors == 0 else f"{self.executors} executor(s)")
        if self.cores is not None:
            parts.append(f"{self.cores} cores")
        if self.remote and not parts:
            parts.append("known only to the server")
        return where + (f" ({', '.join(parts)})" if parts else "")


def mask_remote(url: str) -> str:
    """A Spark Connect URL with its secret parameters and any password replaced by ***."""
    return USER_PASSWORD.sub(rf"\g<1>{MASK}@", SECRET_PARAMETER.sub(rf"\g<1>{MASK}", url))


def describe(spark: Any, remote: str | None = None) -> Compute:
    """Where `spark` runs. `remote` is the Connect URL the session was built from (settings)."""
    context = _spark_context(spark)
    if context is None:  # Spark Connect
        conf = spark.conf
        return Compute(
            master=_conf(conf, "spark.master"),
            remote=mask_remote(remote) if remote else None,
            app_id=_conf(conf, "spark.app.id"),
        )
    tracker = context._jsc.sc().getExecutorMemoryStatus()  # block managers: the driver's and each executor's
    return Compute(
        master=context.master,
        app_id=context.applicationId,
        executors=max(int(tracker.size()) - 1, 0),
        cores=int(context.defaultParallelism),
    )


def _spark_context(spark: Any) -> Any:
    try:
        return spark.sparkContext
    except Exception:  # a Connect session has none
        return None


def _conf(conf: Any, key: str) -> str | None:
    try:
        value = conf.get(key, None)
    except Exception:  # a server that keeps the key to itself
        return None
    return None if value in (None, "") else str(value)
