"""`mirrorwatch status` and `push` without a server: the spool is the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.store.spool import Spool
from sensors.types import Side


@pytest.fixture(autouse=True)
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for key in ("URL", "ORG", "BUCKET", "TOKEN", "TOKEN_FILE"):
        monkeypatch.delenv(f"MIRRORWATCH_INFLUX_{key}", raising=False)


def test_status_shows_counts_and_pending_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Spool.in_dir(tmp_path / "d") as spool:
        info = spool.start_session(subject="P01", source="x", mode="demo", started_at=1e9)
        spool.add_link(info.id, Side.L, 1.0, battery=50.0)
        spool.note_delivery_error("http://db:8086 answered 503: busy")
    assert main(["--data-dir", str(tmp_path / "d"), "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "stored   1 sessions, 0 events, 0 samples"
    assert out[2] == "delivery not configured: the spool is the store"
    assert out[3].startswith("pending  0 events, 0 verdicts, 1 link, 0 samples; oldest ")
    assert out[4].startswith("error    http://db:8086 answered 503: busy (")
    assert main(["--data-dir", str(tmp_path / "d"), "status", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["pending"] == {"events": 0, "verdicts": 0, "link": 1, "samples": 0}
    assert d["oldest_pending_age_s"] > 0
    assert d["target"] is None


def test_push_without_a_server_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path / "d"), "push"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mirrorwatch: InfluxDB is not configured")
    assert len(err.splitlines()) == 1
