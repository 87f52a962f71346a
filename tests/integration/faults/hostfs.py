"""Small real file systems for the host-fault tests (issue 16): tmpfs and loop-mounted ext4.

Mounting needs root, as on CI and in the project's containers. Elsewhere a test
is skipped with one line saying what is missing (failed instead under
MIRRORWATCH_REQUIRE_ALL, as CI sets it, so CI cannot go green by skipping).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prerequisites import required_everywhere


def _missing(reason: str) -> None:
    if required_everywhere():
        pytest.fail(f"{reason}; MIRRORWATCH_REQUIRE_ALL is set, so it must be there")
    pytest.skip(reason)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)


def require_mounting() -> None:
    """Skip unless this process may mount file systems (root)."""
    if os.geteuid() != 0:
        _missing("needs root to mount a small tmpfs or ext4 image (run as root, as CI does)")


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "3m") mounted at `where` for the block."""
    require_mounting()
    where.mkdir(parents=True, exist_ok=True)
    r = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if r.returncode != 0:
        _missing(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        unmount(where)


@contextlib.contextmanager
def ext4_image(image: Path, size: str) -> Iterator[Path]:
    """An ext4 file system of `size` in the file `image` (not mounted)."""
    require_mounting()
    mkfs = shutil.which("mkfs.ext4") or "/sbin/mkfs.ext4"
    if not Path(mkfs).exists():
        _missing("needs mkfs.ext4 (Debian package e2fsprogs)")
    _run("truncate", "-s", size, str(image))
    r = _run(mkfs, "-q", "-F", str(image))
    if r.returncode != 0:
        _missing(f"cannot make an ext4 image: {r.stderr.strip()}")
    yield image


def mount_loop(image: Path, where: Path) -> None:
    """Mount an image through a loop device (what a USB disk looks like to us)."""
    where.mkdir(parents=True, exist_ok=True)
    r = _run("mount", "-o", "loop", str(image), str(where))
    if r.returncode != 0:
        _missing(f"cannot loop-mount an ext4 image here: {r.stderr.strip()}")


def remount(where: Path, mode: str) -> None:
    """Remount `where` "ro" or "rw" (refused while a file on it is open for writing)."""
    r = _run("mount", "-o", f"remount,{mode}", str(where))
    assert r.returncode == 0, r.stderr


def unmount(where: Path, *, lazy: bool = False) -> None:
    for _ in range(50):  # a process that just exited may still hold the mount a moment
        r = _run("umount", *(["-l"] if lazy else []), str(where))
        if r.returncode == 0 or "not mounted" in r.stderr:
            return
        time.sleep(0.1)
    raise AssertionError(f"cannot unmount {where}: {r.stderr}")


def fill(directory: Path) -> int:
    """Fill the file system of `directory` to the last byte with a file; bytes written."""
    written = 0
    with (directory / "filler").open("wb", buffering=0) as f:
        chunk = bytes(64 * 1024)
        while True:
            try:
                written += f.write(chunk)
            except OSError:
                break
        with contextlib.suppress(OSError):
            while True:
                written += f.write(b"\0" * 512)
    return written


def query(spool: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of `sql` on a spool another process is writing (WAL lets us in)."""
    db = sqlite3.connect(spool, timeout=10.0)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def wait_for(what: Callable[[], bool], timeout_s: float, message: str) -> float:
    """Poll `what` every 50 ms until true; returns when (monotonic s). Fails after timeout."""
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
    return time.monotonic()
