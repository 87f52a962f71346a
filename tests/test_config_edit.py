"""`pair` edits mirrorwatch.toml the way the user wrote it (pipeline/config_edit.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config_edit import set_keys
from pipeline.engine.config import ConfigError

LEFT, RIGHT = "AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"

# Configs that load fine, each written another way TOML allows.
CONFIGS = {
    "inline table": 'data_dir = "data"\nble = { odr_hz = 200 }\n\n[spool]\nmax_mb = 64\n',
    "dotted keys": (
        "# gateway in the kitchen\nble.odr_hz = 200\n\n[spool] # small card\nmax_mb = 64\n"
    ),
    "table with comments": (
        '[ble]\n# the wrists of p07\nleft = "11:22:33:44:55:66"\nodr_hz = 200 # fast\n\n'
        "[spool]\nmax_mb = 64\n"
    ),
    "no ble table": "[spool]\nmax_mb = 64 # keep this comment\n",
    "empty": "",
}


@pytest.mark.parametrize("text", CONFIGS.values(), ids=CONFIGS.keys())
def test_pair_round_trips_configs_that_load(text: str, tmp_path: Path) -> None:
    config = tmp_path / "mirrorwatch.toml"
    config.write_text(text, encoding="utf-8")
    args = ["--config", str(config), "--data-dir", str(tmp_path / "data"), "pair", "--no-bond"]
    assert main([*args, "--left", LEFT, "--right", RIGHT]) == 0
    new = config.read_text(encoding="utf-8")
    loaded, before = tomllib.loads(new), tomllib.loads(text)
    assert loaded["ble"]["left"] == LEFT
    assert loaded["ble"]["right"] == RIGHT
    # everything else, values and comments, is as it was
    assert {k: v for k, v in loaded.items() if k != "ble"} == {
        k: v for k, v in before.items() if k != "ble"
    }
    assert {k: v for k, v in loaded["ble"].items() if k not in ("left", "right")} == {
        k: v for k, v in before.get("ble", {}).items() if k not in ("left", "right")
    }
    for line in text.splitlines():
        if "#" in line:
            assert line.split("#", 1)[1] in new
    # and the gateway reads it back
    assert main(["--config", str(config), "--data-dir", str(tmp_path / "data"), "status"]) == 0


def test_pairing_twice_changes_only_the_wrists() -> None:
    once = set_keys(CONFIGS["dotted keys"], "ble", {"left": LEFT, "right": RIGHT})
    twice = set_keys(once, "ble", {"left": RIGHT, "right": LEFT})
    assert twice == once.replace(LEFT, "@").replace(RIGHT, LEFT).replace("@", RIGHT)


def test_a_ble_key_that_is_not_a_table_is_one_error() -> None:
    with pytest.raises(ConfigError, match=r"^my\.toml: ble: must be a table$"):
        set_keys('ble = "on"\n', "ble", {"left": LEFT}, source="my.toml")
