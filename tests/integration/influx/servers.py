"""Real time-series servers on loopback for the delivery tests (see tests/README.md).

Each server is the Debian package's binary, started on a free port with its own
temporary data directory, stopped at the end. A missing binary skips the test with
the package to install, or fails it under CI (tests/prerequisites.py).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prerequisites import require_program

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
VISIBLE_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary(name: str, package: str) -> str:
    return require_program(name, package)


def http(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data, headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return int(r.status), bytes(r.read())
    except urllib.error.HTTPError as e:
        return int(e.code), bytes(e.read())


class Server:
    """One server process; `stop()`/`start()` restart it on the same port and data."""

    def __init__(self, argv: list[str], url: str, ready: Callable[[], bool], log: Path) -> None:
        self.argv = argv
        self.url = url
        self._ready = ready
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited: {self._log.read_text()[-2000:]}")
            try:
                if self._ready():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.argv[0]} not ready after {START_TIMEOUT_S} s")

    def stop(self) -> None:
        """SIGTERM and wait: both servers flush what they acknowledged before exiting.

        A server still running after STOP_TIMEOUT_S is killed and the stop fails:
        SIGKILL loses acknowledged writes (the last seconds VictoriaMetrics keeps in
        memory), and a test must not blame the writer for that.
        """
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(
                f"{self.argv[0]} still running {STOP_TIMEOUT_S} s after SIGTERM; killed, "
                "so writes it acknowledged may be lost"
            ) from None


class VictoriaMetrics(Server):
    """victoria-metrics 1.79 with the settings the writer's timestamps need."""

    def __init__(
        self,
        data_dir: Path,
        auth: tuple[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls`: (certificate, key) PEM files to serve https with instead of http."""
        port = free_port()
        argv = [
            binary("victoria-metrics", "victoria-metrics"),
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={data_dir}",
            "-retentionPeriod=100y",  # the default month would silently drop older test points
            "-search.latencyOffset=0s",  # else the last 30 s are hidden from queries
            "-dedup.minScrapeInterval=1ms",  # a re-sent point replaces, not duplicates
            "-loggerLevel=ERROR",
        ]
        if auth is not None:
            argv += [f"-httpAuth.username={auth[0]}", f"-httpAuth.password={auth[1]}"]
        if tls is not None:
            argv += ["-tls", f"-tlsCertFile={tls[0]}", f"-tlsKeyFile={tls[1]}"]
        self.auth = auth
        self._metrics_read_at = -1e9
        url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        super().__init__(argv, url, self._health, data_dir.with_suffix(".log"))

    def _headers(self) -> dict[str, str]:
        if self.auth is None:
            return {}
        basic = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}

    def _health(self) -> bool:
        return http("GET", f"{self.url}/health", headers=self._headers()) == (200, b"OK")

    def export(self, match: str) -> list[dict[str, object]]:
        """Every series matching `match` with its values and ms timestamps, as it is now.

        force_flush first, but that is not enough right after a write: 1.79's
        force_flush does not wait for the background flush (every second) that may
        have taken the newest rows out of the write buffer and not yet made them a
        searchable part, so those are missing for a moment. `points(expect=)` waits.
        """
        status, out = http("GET", f"{self.url}/internal/force_flush", headers=self._headers())
        assert status == 200, out
        # An explicit range: by default the export ends now, and a session replayed
        # faster than real time has points in the near future.
        query = {"match[]": match, "start": "0", "end": str(int(time.time()) + 7 * 86_400)}
        body = urllib.parse.urlencode(query).encode()
        status, out = http("POST", f"{self.url}/api/v1/export", body, self._headers())
        assert status == 200, out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def counter(self, name: str) -> float:
        """The server's own metric `name` from /metrics, summed over its label sets."""
        # 1.79 serves /metrics from a cache refreshed at most once a second
        time.sleep(max(0.0, self._metrics_read_at + 1.1 - time.monotonic()))
        status, out = http("GET", f"{self.url}/metrics", headers=self._headers())
        self._metrics_read_at = time.monotonic()
        assert status == 200, out
        lines = out.decode().splitlines()
        return sum(
            float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith((f"{name}{{", f"{name} "))
        )

    def points(
        self, metric: str, session: str, expect: int | None = None
    ) -> list[tuple[int, float, dict[str, str]]]:
        """(ms timestamp, value, labels) of one metric of one session, by labels then time.

        With `expect`, reads again until at least that many points are visible or
        VISIBLE_TIMEOUT_S passed (see `export`), and returns the last read: points
        the server never stored still fail the caller's comparison, only later.
        """
        deadline = time.monotonic() + VISIBLE_TIMEOUT_S
        while True:
            rows = []
            for series in self.export(f'{{__name__="{metric}",session="{session}"}}'):
                labels = {k: str(v) for k, v in dict(series["metric"]).items()}  # type: ignore[call-overload]
                for ts, v in zip(series["timestamps"], series["values"], strict=True):  # type: ignore[call-overload]
                    rows.append((int(ts), float(v), labels))
            if expect is None or len(rows) >= expect or time.monotonic() > deadline:
                return sorted(rows, key=lambda r: (sorted(r[2].items()), r[0]))
            time.sleep(0.2)


class InfluxDB1(Server):
    """influxd 1.6.7 with authentication on, one admin user and one database."""

    def __init__(self, root: Path, user: str, password: str, database: str) -> None:
        port, rpc = free_port(), free_port()
        root.mkdir(parents=True)
        config = root / "influxdb.conf"
        config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = true
  log-enabled = false
[continuous_queries]
  enabled = false
"""
        )
        url = f"http://127.0.0.1:{port}"
        argv = [binary("influxd", "influxdb"), "-config", str(config)]
        super().__init__(argv, url, lambda: http("GET", f"{url}/ping")[0] == 204, root / "log")
        self.user, self.password, self.database = user, password, database

    def start(self) -> None:
        super().start()
        # With no users yet, 1.x accepts this one unauthenticated statement.
        admin = f"CREATE USER {self.user} WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES"
        self.query(admin, auth=False)
        self.query(f"CREATE DATABASE {self.database}")

    def query(self, q: str, auth: bool = True, database: str = "") -> dict[str, object]:
        body = urllib.parse.urlencode({"q": q, "db": database or self.database}).encode()
        # 1.x reads credentials from the URL or a header, not from a form body
        headers = self._basic() if auth else {}
        status, out = http("POST", f"{self.url}/query?epoch=ns", body, headers)
        assert status == 200, out
        result: dict[str, object] = json.loads(out)
        return result

    def _basic(self) -> dict[str, str]:
        basic = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}

    def write(self, line: str, database: str) -> None:
        params = urllib.parse.urlencode({"db": database, "precision": "ns"})
        status, out = http("POST", f"{self.url}/write?{params}", line.encode(), self._basic())
        assert status == 204, out


def python_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment for a child `mirrorwatch`, without any inherited influx settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIRRORWATCH_")}
    return env | extra
