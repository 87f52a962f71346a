"""Changing keys of `mirrorwatch.toml` in place, the way the user wrote it.

`pair` and any later verb that writes configuration go through here: tomlkit keeps
comments, key order, inline tables (`ble = { ... }`) and dotted keys (`ble.odr_hz`)
as they were, where rewriting the table by hand broke configs that load fine.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import tomlkit
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable, Table

from pipeline.engine.config import ConfigError
from pipeline.private_files import private_dir

Value = str | int | float | bool


def set_keys(text: str, table: str, values: Mapping[str, Value], source: str = "config") -> str:
    """`text` with `values` set in the top-level TOML table `table` (added if absent).

    Everything else stays as written. `source` names the file in errors.
    """
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise ConfigError(f"{source}: not valid TOML ({e})") from None
    target = doc.get(table)
    if target is None:
        target = tomlkit.table()
        doc[table] = target
    elif not isinstance(target, Table | InlineTable | OutOfOrderTableProxy):
        raise ConfigError(f"{source}: {table}: must be a table")
    for key, value in values.items():
        target[key] = value
    new = tomlkit.dumps(doc)
    tomllib.loads(new)  # never hand back a file we could not read back
    return new


def update_config(path: Path, table: str, values: Mapping[str, Value]) -> None:
    """Set `values` in `[table]` of the config file at `path` (created if absent)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    new = set_keys(text, table, values, source=str(path))
    private_dir(path.parent)  # owner-only, as the README says
    tmp = path.with_name(path.name + ".tmp")
    # Owner-only like the spool: the file may name a token file and the subject's
    # sensors. fchmod as well, since os.open's mode is only what the umask lets through
    # and a stale .tmp keeps the mode it has.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(new)
    tmp.replace(path)
