"""A data directory the CLI cannot use: one clear line, exit 2, nothing overwritten (issue 7).

Each case is a real `mirrorwatch` process, for a verb that only reads the spool
(`events`) and one that writes it (`demo`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from faults_run import mirrorwatch

VERBS = [("events",), ("demo", "--duration", "5")]


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root`, relative name -> bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _corrupt(path: Path) -> None:
    path.write_bytes(np.random.default_rng(7).bytes(8192))


def _foreign(path: Path) -> None:
    """An SQLite database of some other program, in its default rollback-journal mode."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE patients (name TEXT, born TEXT)")
        db.execute("INSERT INTO patients VALUES ('someone', '1970-01-01')")
    db.close()


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: v[0])
@pytest.mark.parametrize(
    ("make", "message"),
    [(_corrupt, "file is not a database"), (_foreign, "is an SQLite file but not a MirrorWatch")],
    ids=["random-bytes", "foreign-sqlite"],
)
def test_a_file_that_is_not_a_spool_is_refused_and_left_as_it_was(
    tmp_path: Path, verb: tuple[str, ...], make: Callable[[Path], None], message: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    make(data / "spool.sqlite")
    before = _snapshot(data)
    r = mirrorwatch(tmp_path, data, *verb)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith("mirrorwatch: ")
    assert message in line
    assert str(data / "spool.sqlite") in line
    # byte for byte, and no -wal/-shm/-journal left beside it
    assert _snapshot(data) == before


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A data directory nothing can be created in.

    chmod 0500 stops anyone but root; as root (as in CI containers) a path below a
    regular file is used instead, which no user can create.
    """
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    probe = locked / "probe"
    try:
        probe.touch()
    except PermissionError:
        yield locked
        locked.chmod(0o700)
        return
    probe.unlink()
    locked.chmod(0o700)
    (tmp_path / "a-file").write_bytes(b"not a directory\n")
    yield tmp_path / "a-file" / "data"


def test_an_unwritable_data_directory_is_one_line_and_exit_2(
    tmp_path: Path, unwritable: Path
) -> None:
    before = _snapshot(tmp_path)
    r = mirrorwatch(tmp_path, unwritable, "demo", "--duration", "5")
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith("mirrorwatch: cannot create the spool")
    assert "Traceback" not in r.stderr
    assert _snapshot(tmp_path) == before
