"""Read-only media and a data directory that vanishes (issue 16), on real file systems.

- A card taken out of a gateway, mounted read-only: `events`, `status` and `report`
  read its spool, whether it was closed cleanly (no WAL) or its writer was killed
  (a WAL that was never checkpointed, with or without its -shm), and say once that
  they read it read-only. Nothing on the card changes.
- The USB disk holding the data directory is unplugged mid-session (a lazy unmount:
  the open files stay usable, the path is gone): the monitor notices within a
  second, says so in one line and ends; plugged back in, the next start closes the
  session as interrupted, with every event committed before the unplug intact.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from faults_run import command, environment, mirrorwatch
from hostfs import ext4_image, mount_loop, query, remount, tmpfs, unmount, wait_for

MONITOR = ("monitor", "--subject", "p01", "--source", "simulated", "--seed", "7")
AT_20X = (*MONITOR, "--speed", "20", "--duration", "3600", "--store-samples")


def _events(spool: Path) -> list[tuple[object, ...]]:
    try:
        return query(spool, "SELECT id, data FROM events ORDER BY id") if spool.exists() else []
    except Exception:  # the monitor is still creating the schema
        return []


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _killed_monitor(tmp_path: Path, data: Path) -> list[tuple[object, ...]]:
    """Run a monitor into `data` and kill -9 it after a few events; the events committed."""
    with (tmp_path / "err").open("w") as err:
        proc = subprocess.Popen(
            command(data, *AT_20X),
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=environment(tmp_path),
            cwd=tmp_path,
        )
        try:
            spool = data / "spool.sqlite"
            wait_for(lambda: len(_events(spool)) >= 3, 60, "no events in 60 s")
        finally:
            proc.kill()
            proc.wait(timeout=10)
    # read from a copy: the last connection to close checkpoints and removes the WAL
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("spool.sqlite", "spool.sqlite-wal"):
        shutil.copyfile(data / name, copy / name)
    return _events(copy / "spool.sqlite")


@pytest.mark.parametrize("how", ["closed", "killed", "killed-no-shm"])
def test_a_spool_on_read_only_media_is_read(tmp_path: Path, how: str) -> None:
    with tmpfs(tmp_path / "card", "16m") as card:
        data = card / "data"
        if how == "closed":
            r = mirrorwatch(tmp_path, data, "demo", "--duration", "120", "--store-samples")
            assert r.returncode == 0, r.stderr
            committed = _events(data / "spool.sqlite")
        else:
            committed = _killed_monitor(tmp_path, data)
            assert (data / "spool.sqlite-wal").stat().st_size > 0
            if how == "killed-no-shm":
                (data / "spool.sqlite-shm").unlink()
        files = sorted(p.name for p in data.iterdir())
        remount(card, "ro")
        try:
            before = _digest(card)
            ev = mirrorwatch(tmp_path, data, "events", "--format", "json")
            st = mirrorwatch(tmp_path, data, "status", "--json")
            rep = mirrorwatch(tmp_path, data, "report", "--out", str(tmp_path / "r.html"))
            assert _digest(card) == before
        finally:
            remount(card, "rw")
    print(f"{how}: files {files}; {ev.stderr.strip()}")
    assert ev.returncode == 0, ev.stderr
    assert len(ev.stdout.splitlines()) == len(committed) > 0
    assert [json.loads(line)["t_onset"] for line in ev.stdout.splitlines()] == [
        json.loads(str(row[1]))["t_onset"] for row in committed
    ]
    assert ev.stderr.count("reading it read-only") == 1
    assert "not checkpointed" in ev.stderr or how != "killed-no-shm"
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["read_only"] is True
    assert rep.returncode == 0, rep.stderr
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_the_data_directory_unplugged_mid_session(tmp_path: Path) -> None:
    with ext4_image(tmp_path / "usb.img", "32M") as image:
        usb = tmp_path / "usb"
        mount_loop(image, usb)
        data = usb / "data"
        spool = data / "spool.sqlite"
        err_path = tmp_path / "err"
        try:
            with err_path.open("w") as err:
                proc = subprocess.Popen(
                    command(data, *AT_20X),
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=environment(tmp_path),
                    cwd=tmp_path,
                    text=True,
                )
                try:
                    wait_for(lambda: len(_events(spool)) >= 3, 60, "no events in 60 s")
                    committed = _events(spool)
                    unmount(usb, lazy=True)  # unplugged: the path is gone, the files open
                    unplugged = time.monotonic()
                    proc.communicate(timeout=30)
                    reacted = time.monotonic() - unplugged
                finally:
                    proc.send_signal(signal.SIGKILL)
            stderr = [
                line
                for line in err_path.read_text().splitlines()
                if not line.startswith("mirrorwatch: pipeline/")  # the engine's build note
            ]
            print(f"ended {reacted:.2f} s after the unplug: {stderr}")
            assert proc.returncode == 2
            (line,) = stderr
            assert line.startswith(f"mirrorwatch: the data directory {data} vanished")
            assert "closes it as interrupted" in line
            assert reacted <= 2.0

            time.sleep(0.5)  # the lazily unmounted file system goes once the process is gone
            mount_loop(image, usb)  # plugged back in
            r = mirrorwatch(tmp_path, data, *MONITOR, "--speed", "max", "--duration", "60")
            assert r.returncode == 0, r.stderr
            assert query(spool, "PRAGMA integrity_check") == [("ok",)]
            reasons = dict(query(spool, "SELECT id, end_reason FROM sessions"))
            assert sorted(reasons.values()) == ["interrupted", "source ended"]
            (old,) = [sid for sid, why in reasons.items() if why == "interrupted"]
            assert f"session {old} never ended" in r.stderr
            after = _events(spool)
            assert set(committed) <= set(after)
        finally:
            unmount(usb)
