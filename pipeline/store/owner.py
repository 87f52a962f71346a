"""Which process runs a session: enough to tell, on this machine, that it died.

An owner is "<boot id>:<pid>". A pid alone could be reused after a reboot; the
kernel's boot id changes with every boot, so a pid is only looked up when the
owner was recorded during this boot of this machine.
"""

from __future__ import annotations

import os
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:  # not Linux: staleness alone tells a dead session
        return ""


def current() -> str:
    """The owner string of this process."""
    return f"{_boot_id()}:{os.getpid()}"


def gone(owner: str | None) -> bool:
    """Whether the process recorded as `owner` has certainly ended.

    False when it cannot be known: another machine, an earlier boot (then the
    session's age tells), or a process of another user that still exists.
    """
    boot, _, pid = (owner or "").rpartition(":")
    if not boot or boot != _boot_id() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
