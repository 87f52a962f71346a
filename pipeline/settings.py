"""Where data lives and what `mirrorwatch.toml` configures.

`[influx]` (url, org, bucket, api, insecure, timeout_s, batch_size, token_file)
turns on delivery to InfluxDB; `MIRRORWATCH_INFLUX_URL`, `_ORG` and `_BUCKET` win
over the file. The token never sits in the file: `MIRRORWATCH_INFLUX_TOKEN`, else
the file named by `MIRRORWATCH_INFLUX_TOKEN_FILE` or `token_file`. `[spool]
max_mb` bounds the spool.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.engine.config import ConfigError, EngineConfig
from pipeline.private_files import tighten
from sensors.ble_config import BleConfig
from sensors.config_table import Table, TableError
from sensors.lsl_config import LslConfig

CONFIG_NAME = "mirrorwatch.toml"
DEFAULT_SPOOL_MAX_MB = 4096  # ~ 3 days of raw samples of two wrists at 100 Hz
DEFAULT_TIMEOUT_S = 10.0  # s an InfluxDB request may take
DEFAULT_BATCH_SIZE = 5000  # points per InfluxDB write


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    """Where and how to deliver: `api` "v2" (InfluxDB 2.x/3.x, influxdb-client) or
    "v1" (InfluxDB 1.x `/write`, `bucket` is "database" or "database/retention",
    token "user:password" or empty). `insecure` skips TLS certificate checks."""

    url: str
    org: str
    bucket: str
    token: str = field(repr=False)  # repr=False: a logged Settings never shows it
    api: str = "v2"
    insecure: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    batch_size: int = DEFAULT_BATCH_SIZE


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings: the data directory and the engine parameters."""

    data_dir: Path
    engine: EngineConfig
    config_path: Path | None  # the file they came from, if any
    influx: InfluxSettings | None = None  # None: no delivery, the spool is the store
    spool_max_bytes: int | None = DEFAULT_SPOOL_MAX_MB * 1024 * 1024
    ble: BleConfig = field(default_factory=BleConfig)  # [ble]: paired wrists, link timing
    lsl: LslConfig = field(default_factory=LslConfig)  # [lsl]: Lab Streaming Layer


def default_data_dir() -> Path:
    """`$MIRRORWATCH_DATA_DIR`, else the per-user data directory (XDG)."""
    env = os.environ.get("MIRRORWATCH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "mirrorwatch"


def default_config_path() -> Path | None:
    """`./mirrorwatch.toml` if present, else the per-user one (XDG) if present."""
    local = Path(CONFIG_NAME)
    if local.is_file():
        return local
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    user = base / "mirrorwatch" / CONFIG_NAME
    return user if user.is_file() else None


def load_settings(config: Path | None, data_dir: Path | None) -> Settings:
    """Read `config` (or the default one); `data_dir` wins over the file and environment.

    Raises ConfigError naming the file and the key for anything wrong.
    """
    path = config if config is not None else default_config_path()
    table: dict[str, Any] = {}
    if path is not None:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot read: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: {e}") from None
    try:
        return _settings(table, path, data_dir)
    except TableError as e:
        raise ConfigError(f"{path}: {e}") from None


_TOP_KEYS = ("data_dir", "engine", "influx", "spool", "ble", "lsl")
_INFLUX_KEYS = ("url", "org", "bucket", "api", "insecure", "timeout_s", "batch_size", "token_file")


def _settings(table: dict[str, Any], path: Path | None, data_dir: Path | None) -> Settings:
    """Settings from the parsed file; TableError names the key (the caller, the file)."""
    top = Table(table, "", _TOP_KEYS)
    top.done()
    try:
        engine = EngineConfig.from_mapping(top.table("engine"))
    except ConfigError as e:
        raise TableError(str(e)) from None
    if data_dir is None:
        from_file = top.string("data_dir", "", empty=True)
        env_set = bool(os.environ.get("MIRRORWATCH_DATA_DIR"))
        data_dir = Path(from_file).expanduser() if from_file and not env_set else None
    return Settings(
        data_dir=data_dir or default_data_dir(),
        engine=engine,
        config_path=path,
        influx=_influx(Table(top.table("influx"), "influx", _INFLUX_KEYS), path),
        spool_max_bytes=_spool_max_bytes(Table(top.table("spool"), "spool", ("max_mb",))),
        ble=BleConfig.from_mapping(top.table("ble")),
        lsl=LslConfig.from_mapping(top.table("lsl")),
    )


def _spool_max_bytes(t: Table) -> int:
    t.done()
    return int(t.number("max_mb", DEFAULT_SPOOL_MAX_MB, low=1) * 1024 * 1024)


def _influx(t: Table, path: Path | None) -> InfluxSettings | None:
    """The delivery settings, or None when no URL is configured anywhere."""
    if "token" in t:
        raise t.error(
            "token",
            "not read from files: set MIRRORWATCH_INFLUX_TOKEN or point influx.token_file "
            "(or MIRRORWATCH_INFLUX_TOKEN_FILE) at a file",
        )
    t.done()
    insecure = t.boolean("insecure", False)
    timeout_s = t.number("timeout_s", DEFAULT_TIMEOUT_S, low=0, strict=True)
    batch_size = t.integer("batch_size", low=1, default=DEFAULT_BATCH_SIZE)
    token_file = t.string("token_file", "", empty=True) or None
    values = {k: t.string(k, "", empty=True) for k in ("url", "org", "bucket")}
    for key in values:
        env = os.environ.get(f"MIRRORWATCH_INFLUX_{key.upper()}")
        if env:
            values[key] = env
    if not values["url"]:
        return None
    api = t.choice("api", ("v1", "v2"), "v2")
    if not values["url"].startswith(("http://", "https://")):
        raise ConfigError(f"influx url must start with http:// or https://: {values['url']!r}")
    required = ("org", "bucket") if api == "v2" else ("bucket",)
    for key in required:
        if not values[key]:
            raise ConfigError(
                f"influx.{key} is not set (in {path or CONFIG_NAME} [influx] or "
                f"MIRRORWATCH_INFLUX_{key.upper()})"
            )
    token = _token(token_file, path)
    if api == "v2" and not token:
        raise ConfigError(
            "no InfluxDB token: set MIRRORWATCH_INFLUX_TOKEN or MIRRORWATCH_INFLUX_TOKEN_FILE"
        )
    return InfluxSettings(
        url=values["url"].rstrip("/"),
        org=values["org"],
        bucket=values["bucket"],
        token=token,
        api=api,
        insecure=insecure,
        timeout_s=timeout_s,
        batch_size=batch_size,
    )


def _token(token_file: str | None, path: Path | None) -> str:
    """The token from the environment or a file; errors never include its text."""
    token = os.environ.get("MIRRORWATCH_INFLUX_TOKEN", "")
    if token:
        return token.strip()
    name = os.environ.get("MIRRORWATCH_INFLUX_TOKEN_FILE") or token_file
    if not name:
        return ""
    file = Path(name).expanduser()
    if not file.is_absolute() and path is not None and token_file == name:
        file = path.parent / file  # relative to the config file that names it
    tighten(file)  # a secret: an older copy readable by others becomes 0600
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"cannot read the InfluxDB token file {file}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the InfluxDB token file {file} is not UTF-8 text") from None
