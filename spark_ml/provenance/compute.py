"""Where a run ran: the Spark master or the Spark Connect remote, the application, its executors.

Recorded in every manifest (the runs table's `compute` column) and shown by `spark-ml lineage`, so
a table built on a standalone cluster says so. A remote URL's credentials (a `token=` or other
secret parameter, a password in `user:password@`) are masked before anything is recorded.
Everything comes from what classic sessions and Spark Connect clients both offer (no SparkContext):
the session's configuration (master, application id), and on a cluster the driver's status API
(`/api/v1/applications/<app>/executors`) for the executors and their cores; where that API is off
or out of reach (a remote Connect server) they are None.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass
from typing import Any

from spark_ml.config.secrets import MASK

SECRET_PARAMETER = re.compile(r"(?i)(;\s*(?:token|password|secret|[a-z_-]*key)\s*=)[^;]*")
USER_PASSWORD = re.compile(r"(//[^/:@;]+:)[^@/;]*@")
STATUS_TIMEOUT_S = 2.0


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
    """Where `spark` runs, through what a classic session and a Spark Connect client both offer:
    its configuration, and for a cluster the executor list of the driver's status API (when its UI
    is on and reachable). `remote` is the Connect URL the session was built from (settings)."""
    conf = spark.conf
    master, app_id = _conf(conf, "spark.master"), _conf(conf, "spark.app.id")
    executors, cores = _local_slots(master, here=remote is None)
    if executors is None and app_id and _conf(conf, "spark.ui.enabled") != "false":
        host, port = _conf(conf, "spark.driver.host"), _conf(conf, "spark.ui.port") or "4040"
        if host:
            executors, cores = _executors(f"http://{host}:{port}/api/v1/applications/{app_id}/executors")
    return Compute(master, mask_remote(remote) if remote else None, app_id, executors, cores)


def _local_slots(master: str | None, *, here: bool) -> tuple[int | None, int | None]:
    """(0 executors, task slots) for local[N], local[N, F], local[*] and local; (None, None) otherwise.
    local[*] has this machine's cores only when the session runs `here` (not behind a Connect URL)."""
    found = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master or "")
    if found is None:
        return None, None
    slots = found.group(1) or "1"
    if slots == "*":
        return 0, (os.cpu_count() or 1) if here else None
    return 0, int(slots)


def _executors(url: str) -> tuple[int | None, int | None]:
    """(executors, their cores) from Spark's status API; (None, None) when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=STATUS_TIMEOUT_S) as response:
            listed = json.load(response)
    except (OSError, ValueError):
        return None, None
    workers = [e for e in listed if e.get("id") != "driver" and e.get("isActive", True)]
    return len(workers), sum(int(e.get("totalCores", 0)) for e in workers)


def _conf(conf: Any, key: str) -> str | None:
    try:
        value = conf.get(key, None)
    except Exception:  # a server that keeps the key to itself
        return None
    return None if value in (None, "") else str(value)
