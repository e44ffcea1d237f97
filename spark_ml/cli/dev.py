"""A warm Spark for the edit-test loop: a local Spark Connect server with Delta, in the background.

    spark-ml dev start [--port 15002]   start it (a second start says where the running one is)
    spark-ml dev status                 where it runs; exit 3 when none runs
    spark-ml dev stop                   stop it by its pid (its whole process group); exit 0 if none runs

Its files live under `<lakehouse.root>/dev/`: `connect-server.pid`, `connect-server.json` (pid, port,
url, log) and `connect-server.log`. `pytest --spark-connect` finds it there and runs the tests
against it instead of starting a server of its own; a notebook or script connects to its URL
(`sc://127.0.0.1:15002`) through `spark_ml.get_spark` with `spark.remote` set.

The server is pyspark's own `SparkConnectServer` class started with the installed pyspark's
spark-submit, so its Spark and Delta are exactly this environment's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from spark_ml.errors import SparkMLError
from spark_ml.session import DELTA_SQL_CONF

__all__ = ["DEFAULT_PORT", "DevServer", "Server", "free_port", "start_server"]

DEFAULT_PORT = 15002


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pid: int, timeout: float = 30) -> None:
    """SIGTERM the process group led by `pid`, SIGKILL it if it still runs after `timeout` s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child: poll until it is gone
                done = 0 if alive(pid) else pid
            if done == pid or not alive(pid):
                return
            time.sleep(0.2)


@dataclass
class Server:
    """A running Spark Connect server: its process id (the leader of its process group) and port."""

    pid: int
    port: int
    log: str

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_group(self.pid)


def start_server(
    spark_home: Path,
    delta_package: str,
    workdir: Path,
    python: str,
    *,
    port: int | None = None,
    partitions: int = 2,
    timeout: float = 240,
) -> Server:
    """Start `org.apache.spark.sql.connect.service.SparkConnectServer` in local[2] on 127.0.0.1 in
    a process group of its own and wait until it accepts connections (a first start resolves the
    Delta jars from Maven Central)."""
    port = port or free_port()
    if port_open(port):
        raise SparkMLError(f"port {port} of 127.0.0.1 is already in use: pass --port with a free one")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = {
        "spark.connect.grpc.binding.port": str(port),
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.sql.warehouse.dir": str(workdir / "_warehouse"),
        "spark.pyspark.python": python,
        **DELTA_SQL_CONF,
    }
    command = [
        str(spark_home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        "--packages",
        delta_package,
        *[arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")],
    ]
    env = {**os.environ, "PYSPARK_PYTHON": python, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1"}
    log = workdir / "connect-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    server = Server(process.pid, port, str(log))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SparkMLError(f"the Spark Connect server exited with {process.returncode}: see {log}")
        if port_open(port):
            return server
        time.sleep(0.25)
    server.stop()
    raise SparkMLError(f"the Spark Connect server did not open port {port} within {timeout:.0f} s: see {log}")


class DevServer:
    """The dev server's files under one folder (`<lakehouse.root>/dev`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pid_file = folder / "connect-server.pid"
        self.state_file = folder / "connect-server.json"

    def running(self) -> Server | None:
        """The server these files describe, when its process is alive and its port answers."""
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            server = Server(int(state["pid"]), int(state["port"]), str(state["log"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return server if alive(server.pid) and port_open(server.port) else None

    def start(self, port: int = DEFAULT_PORT) -> tuple[Server, bool]:
        """Start the server unless one runs; returns it and whether this call started it."""
        found = self.running()
        if found is not None:
            return found, False
        import pyspark

        from spark_ml.session import delta_package

        server = start_server(Path(pyspark.__file__).parent, delta_package(), self.folder, sys.executable, port=port)
        self.pid_file.write_text(f"{server.pid}\n", encoding="utf-8")
        self.state_file.write_text(json.dumps({**asdict(server), "url": server.url}, indent=2), encoding="utf-8")
        return server, True

    def stop(self) -> Server | None:
        """Stop the running server (None when none runs); its pid and state files are removed."""
        found = self.running()
        if found is None:
            pid = _read_pid(self.pid_file)
            if pid is not None and alive(pid):  # started, port not open yet or closed: stop it still
                found = Server(pid, 0, "")
        if found is not None:
            found.stop()
            if alive(found.pid):
                raise SparkMLError(f"the dev server (pid {found.pid}) did not stop: kill it by hand")
        for path in (self.pid_file, self.state_file):
            path.unlink(missing_ok=True)
        return found


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def run(command: str, folder: Path, port: int) -> int:
    """`spark-ml dev start|status|stop`: prints one line; exit codes as in the module docstring."""
    dev = DevServer(folder)
    if command == "start":
        server, started = dev.start(port)
        what = "started" if started else "already running"
        print(f"dev Spark Connect server {what} at {server.url} (pid {server.pid}, log {server.log})")
        if started:
            print("stop it with: spark-ml dev stop; tests use it with: pytest --spark-connect")
        return 0
    if command == "status":
        found = dev.running()
        if found is None:
            print(f"no dev server running (files under {folder})")
            return 3
        print(f"dev Spark Connect server running at {found.url} (pid {found.pid}, log {found.log})")
        return 0
    stopped = dev.stop()
    print("no dev server running" if stopped is None else f"dev server stopped (pid {stopped.pid})")
    return 0
