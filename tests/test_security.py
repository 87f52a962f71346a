"""Security (issue 7): private files, no token in any output or file, pseudonyms only."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.private_files import prepare_spool, tighten
from pipeline.settings import load_settings
from pipeline.store.spool import Spool
from sensors.recording import read_recording, write_recording
from sensors.types import ImuBlock, Side

TOKEN = "tok-Zq7uNIQUE-4711-never-print-me"  # distinctive, so any leak is found by grep


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """A process umask for one test, restored after it (000 would leave files world-writable)."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_spool_and_its_wal_and_shm_are_owner_only(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "data" / "spool.sqlite"
    with Spool(path) as spool:
        spool.start_session(subject="p01", source="test", mode="demo", started_at=1.8e9)
        # -wal and -shm exist while a connection is open; SQLite copies the db's mode
        siblings = [path.with_name(path.name + s) for s in ("", "-wal", "-shm")]
        assert all(p.is_file() for p in siblings)
        assert {p.name: _mode(p) for p in siblings} == {p.name: 0o600 for p in siblings}


def test_pair_writes_the_config_owner_only(
    tmp_path: Path, umask: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mirrorwatch.toml"
    config.write_text("[spool]\nmax_mb = 64\n", encoding="utf-8")
    config.chmod(0o644)  # an older file, readable by all
    args = ["--config", str(config), "--data-dir", str(tmp_path / "data"), "pair", "--no-bond"]
    assert main([*args, "--left", "AA:BB:CC:DD:EE:01", "--right", "AA:BB:CC:DD:EE:02"]) == 0
    assert "paired" in capsys.readouterr().out
    assert _mode(config) == 0o600
    text = config.read_text(encoding="utf-8")
    assert "max_mb = 64" in text
    assert "AA:BB:CC:DD:EE:02" in text
    # no config anywhere: pair creates the per-user one
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    fresh = tmp_path / "xdg" / "mirrorwatch" / "mirrorwatch.toml"
    args = ["--data-dir", str(tmp_path / "data"), "pair", "--no-bond"]
    assert main([*args, "--left", "AA:BB:CC:DD:EE:01", "--right", "AA:BB:CC:DD:EE:02"]) == 0
    assert _mode(fresh) == 0o600
    assert sorted(p.name for p in fresh.parent.iterdir()) == ["mirrorwatch.toml"]


def _unused_port() -> int:
    """A loopback port nobody listens on: bound, then released before use."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), **env},
        cwd=tmp_path,
        timeout=100,
        check=False,
    )


def test_token_never_in_output_logs_or_spool(tmp_path: Path) -> None:
    env = {
        "MIRRORWATCH_INFLUX_URL": f"http://127.0.0.1:{_unused_port()}",
        "MIRRORWATCH_INFLUX_ORG": "org",
        "MIRRORWATCH_INFLUX_BUCKET": "bucket",
        "MIRRORWATCH_INFLUX_TOKEN": TOKEN,
    }
    # demo delivers while it runs (and fails: nobody listens), push retries and gives up
    demo = _run(tmp_path, env, "-v", "demo", "--duration", "10", "--store-samples")
    assert demo.returncode == 0, demo.stderr
    push = _run(tmp_path, env, "-v", "push", "--timeout", "1")
    assert push.returncode == 2
    # the runs did log the failed delivery at length: the grep below had text to search
    assert "DEBUG" in demo.stderr
    assert "delivery failed" in demo.stderr + push.stderr
    assert "pending" in push.stdout + push.stderr
    for text in (demo.stdout, demo.stderr, push.stdout, push.stderr):
        assert TOKEN not in text
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any(p.name == "spool.sqlite" for p in files)
    for p in files:
        assert TOKEN.encode() not in p.read_bytes(), p


def test_a_real_name_as_subject_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert (
        main(["--data-dir", str(data), "demo", "--duration", "5", "--subject", "John Smith"]) == 2
    )
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("mirrorwatch: subject must be a pseudonym")
    assert "John" not in err  # the refused value is not echoed
    spool = data / "spool.sqlite"
    assert b"John" not in (spool.read_bytes() if spool.exists() else b"")


# --- files found readable by others, and files we create (pipeline/private_files.py) -------


def test_tighten_files_and_directories_and_warns_once_per_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f, d = tmp_path / "spool.sqlite", tmp_path / "dir"
    f.write_bytes(b"x")
    d.mkdir()
    f.chmod(0o644)
    d.chmod(0o755)
    with caplog.at_level(logging.INFO, logger="pipeline.private_files"):
        assert tighten(f) is True
        assert tighten(d) is True
        assert (_mode(f), _mode(d)) == (0o600, 0o700)
        assert tighten(f) is False  # already private
        assert tighten(tmp_path / "missing") is False
        f.chmod(0o640)
        assert tighten(f) is True
        assert _mode(f) == 0o600
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2  # once per path
    assert str(f) in warned[0]
    assert "0644" in warned[0]


def test_owner_bits_are_kept(tmp_path: Path) -> None:
    f = tmp_path / "read-only"
    f.write_bytes(b"x")
    f.chmod(0o444)
    assert tighten(f) is True
    assert _mode(f) == 0o400


def test_prepare_spool_tightens_spool_wal_and_shm_and_makes_the_data_dir_private(
    tmp_path: Path, umask: int
) -> None:
    data = tmp_path / "new" / "data"
    prepare_spool(data / "spool.sqlite")
    assert (_mode(tmp_path / "new"), _mode(data)) == (0o700, 0o700)
    files = [data / name for name in ("spool.sqlite", "spool.sqlite-wal", "spool.sqlite-shm")]
    for p in files:
        p.write_bytes(b"")
        p.chmod(0o644)
    data.chmod(0o755)  # an existing data dir is the user's: left as it is
    prepare_spool(data / "spool.sqlite")
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(data) == 0o755


def test_an_existing_spool_readable_by_others_is_tightened_on_open(tmp_path: Path) -> None:
    path = tmp_path / "data" / "spool.sqlite"
    with Spool(path) as spool:
        spool.start_session(subject="p01", source="test", mode="demo", started_at=1.8e9)
    path.chmod(0o644)
    with Spool(path) as spool:
        siblings = [path.with_name(path.name + s) for s in ("", "-wal", "-shm")]
        assert {p.name: _mode(p) for p in siblings} == {p.name: 0o600 for p in siblings}


def test_reports_and_their_directory_are_owner_only(
    tmp_path: Path, umask: int, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "demo", "--duration", "5"]) == 0
    assert main(["--data-dir", str(data), "report"]) == 0
    (report,) = (data / "reports").iterdir()
    assert (_mode(data / "reports"), _mode(report)) == (0o700, 0o600)
    # a report written over an older one readable by all
    out = tmp_path / "mine" / "r.html"
    out.parent.mkdir()
    out.write_text("old")
    out.chmod(0o644)
    assert main(["--data-dir", str(data), "report", "--out", str(out)]) == 0
    assert _mode(out) == 0o600
    assert "MirrorWatch report" in out.read_text()
    capsys.readouterr()


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_recordings_are_owner_only(tmp_path: Path, umask: int, suffix: str) -> None:
    fresh, old = tmp_path / f"new{suffix}", tmp_path / f"old{suffix}"
    old.write_bytes(b"older recording")
    old.chmod(0o644)
    block = ImuBlock(Side.L, np.array([0.0, 0.01]), np.zeros((2, 3)), None)
    for path in (fresh, old):
        assert write_recording(path, [block], {"subject": "p01"}) == 2
        assert _mode(path) == 0o600
        assert read_recording(path).rows == 2


def test_a_token_file_readable_by_others_is_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for key in ("URL", "ORG", "BUCKET", "TOKEN", "TOKEN_FILE"):
        monkeypatch.delenv(f"MIRRORWATCH_INFLUX_{key}", raising=False)
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o644)
    config = tmp_path / "mirrorwatch.toml"
    config.write_text(
        '[influx]\nurl = "http://127.0.0.1:1"\norg = "o"\nbucket = "b"\ntoken_file = "token"\n'
    )
    with caplog.at_level(logging.INFO):
        settings = load_settings(config, tmp_path / "data")
    assert settings.influx is not None
    assert settings.influx.token == TOKEN
    assert _mode(token) == 0o600
    assert any("made it private" in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
