"""InfluxDB over https: certificates are verified unless --insecure is given.

The server is the real victoria-metrics serving https with a certificate for
127.0.0.1 issued by a CA that trustme makes for this test (so no system store trusts
it). `mirrorwatch push` runs in a subprocess each time:

- the certificate is not trusted: exit 2, one `mirrorwatch:` line, every row pending;
- `--insecure`: every row delivered (the certificate is not checked);
- the CA given through SSL_CERT_FILE (honoured by OpenSSL's default verify paths, which
  both transports load): delivered while verifying; a different CA there is refused.

The test process itself trusts the CA (SSL_CERT_FILE) to read the points back.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from servers import VictoriaMetrics, python_env
from spooldata import movement, session

from pipeline.store.spool import Spool

REPO_ROOT = Path(__file__).resolve().parents[3]
EVENTS = 5


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VictoriaMetrics, Path]]:
    """The https server and its CA's PEM file."""
    root = tmp_path_factory.mktemp("vm-tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key, ca_pem = root / "cert.pem", root / "key.pem", root / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_pem))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SSL_CERT_FILE", str(ca_pem))  # this process's own requests to it
        server = VictoriaMetrics(root / "data", tls=(cert, key))
        assert server.url.startswith("https://")
        server.start()
        yield server, ca_pem
        server.stop()


def _pending_spool(data: Path) -> str:
    with Spool.in_dir(data) as spool:
        info = session(spool, subject="P07")
        spool.add_events(info.id, [movement(1.0 + 2 * k) for k in range(EVENTS)])
        return info.id


def _push(
    vm: VictoriaMetrics, tmp_path: Path, *args: str, ca: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = python_env(
        {
            "MIRRORWATCH_DATA_DIR": str(tmp_path / "data"),
            "MIRRORWATCH_INFLUX_URL": vm.url,
            "MIRRORWATCH_INFLUX_ORG": "mirrorwatch",
            "MIRRORWATCH_INFLUX_BUCKET": "mirrorwatch",
            "MIRRORWATCH_INFLUX_TOKEN": "any-token",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    env.pop("SSL_CERT_FILE", None)
    env.pop("SSL_CERT_DIR", None)
    if ca is not None:
        env["SSL_CERT_FILE"] = str(ca)
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "push", "--timeout", "5", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _pending(tmp_path: Path) -> int:
    with Spool.in_dir(tmp_path / "data") as spool:
        return spool.delivery_status().total_pending


def test_untrusted_certificate_fails_with_one_line_and_keeps_the_rows(
    tls: tuple[VictoriaMetrics, Path], tmp_path: Path
) -> None:
    vm, _ = tls
    sid = _pending_spool(tmp_path / "data")
    push = _push(vm, tmp_path)
    assert push.returncode == 2
    assert push.stdout == f"sent 0 rows to {vm.url}, {EVENTS} pending\n"
    assert len(push.stderr.splitlines()) == 1, push.stderr
    assert push.stderr.startswith("mirrorwatch: ")
    assert "Traceback" not in push.stderr
    assert _pending(tmp_path) == EVENTS
    assert vm.points("movement_mirror_ratio", sid) == []


def test_another_ca_is_not_trusted_either(
    tls: tuple[VictoriaMetrics, Path], tmp_path: Path
) -> None:
    vm, _ = tls
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    sid = _pending_spool(tmp_path / "data")
    push = _push(vm, tmp_path, ca=other)
    assert push.returncode == 2
    assert _pending(tmp_path) == EVENTS
    assert vm.points("movement_mirror_ratio", sid) == []


def test_insecure_delivers_without_checking(
    tls: tuple[VictoriaMetrics, Path], tmp_path: Path
) -> None:
    vm, _ = tls
    sid = _pending_spool(tmp_path / "data")
    push = _push(vm, tmp_path, "--insecure")
    assert push.returncode == 0, push.stderr
    assert push.stdout == f"sent {EVENTS} rows to {vm.url}, 0 pending\n"
    assert _pending(tmp_path) == 0
    assert len(vm.points("movement_mirror_ratio", sid)) == EVENTS


def test_the_ca_given_delivers_while_verifying(
    tls: tuple[VictoriaMetrics, Path], tmp_path: Path
) -> None:
    vm, ca = tls
    sid = _pending_spool(tmp_path / "data")
    push = _push(vm, tmp_path, ca=ca)
    assert push.returncode == 0, push.stderr
    assert push.stderr == ""  # verified: no warning
    assert push.stdout == f"sent {EVENTS} rows to {vm.url}, 0 pending\n"
    assert _pending(tmp_path) == 0
    assert len(vm.points("movement_mirror_ratio", sid)) == EVENTS


def test_untrusted_certificate_message_says_so(
    tls: tuple[VictoriaMetrics, Path], tmp_path: Path
) -> None:
    vm, _ = tls
    _pending_spool(tmp_path / "data")
    push = _push(vm, tmp_path)
    assert "certificate" in push.stderr.lower()


def test_insecure_warns_once_in_one_line(tls: tuple[VictoriaMetrics, Path], tmp_path: Path) -> None:
    vm, _ = tls
    _pending_spool(tmp_path / "data")
    push = _push(vm, tmp_path, "--insecure")
    lines = push.stderr.splitlines()
    assert len(lines) == 1, push.stderr
    assert lines[0].startswith("mirrorwatch: ")
    assert "not verified" in lines[0] or "insecure" in lines[0]
