"""Where data lives and what `mirrorwatch.toml` configures."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import ConfigError, EngineConfig

CONFIG_NAME = "mirrorwatch.toml"


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings: the data directory and the engine parameters."""

    data_dir: Path
    engine: EngineConfig
    config_path: Path | None  # the file they came from, if any


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
    unknown = sorted(set(table) - {"data_dir", "engine"})
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}")
    engine_table = table.get("engine", {})
    if not isinstance(engine_table, dict):
        raise ConfigError(f"{path}: engine must be a table")
    try:
        engine = EngineConfig.from_mapping(engine_table)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    if data_dir is None:
        from_file = table.get("data_dir")
        if from_file is not None and not isinstance(from_file, str):
            raise ConfigError(f"{path}: data_dir must be a string")
        env_set = bool(os.environ.get("MIRRORWATCH_DATA_DIR"))
        data_dir = Path(from_file).expanduser() if from_file and not env_set else None
    return Settings(data_dir=data_dir or default_data_dir(), engine=engine, config_path=path)
