"""The one TOML table reader: each mistake is one line naming the table and the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.engine.config import ConfigError
from pipeline.settings import load_settings
from sensors.config_table import Table, TableError
from sensors.lsl_config import LslConfig


def _table(**values: Any) -> Table:
    return Table(values, "t", ("name", "rate", "share", "count", "on", "kind", "sub"))


@pytest.mark.parametrize(
    ("read", "values", "message"),
    [
        (lambda t: t.string("name"), {}, "t.name: missing"),
        (lambda t: t.string("name"), {"nmae": "x"}, "t.nmae: unknown key; did you mean `name`?"),
        (lambda t: t.string("name"), {"name": " "}, "t.name: expected a non-empty string, got ' '"),
        (
            lambda t: t.number("rate", None, low=0, strict=True),
            {"rate": 0},
            "t.rate: must be > 0, got 0",
        ),
        (lambda t: t.number("rate", 1.0, low=1), {"rate": 0.5}, "t.rate: must be >= 1, got 0.5"),
        (lambda t: t.number("rate", 1.0), {"rate": True}, "t.rate: expected a number, got True"),
        (
            lambda t: t.number("rate", 1.0),
            {"rate": float("inf")},
            "t.rate: expected a number, got inf",
        ),
        (
            lambda t: t.share("share", 0.5),
            {"share": 30},
            "t.share: a share must be in [0, 1] (0.3 for 30%), got 30",
        ),
        (
            lambda t: t.integer("count", low=1),
            {"count": 2.0},
            "t.count: expected a whole number, got 2.0",
        ),
        (lambda t: t.integer("count", low=1, high=4), {"count": 5}, "t.count: must be 1-4, got 5"),
        (lambda t: t.boolean("on", False), {"on": 1}, "t.on: expected true or false, got 1"),
        (
            lambda t: t.choice("kind", (1, 2)),
            {"kind": 1.0},
            "t.kind: expected one of 1, 2, got 1.0",
        ),
        (
            lambda t: t.choice("kind", ("a", "b")),
            {"kind": "c"},
            "t.kind: expected one of a, b, got 'c'",
        ),
        (lambda t: t.table("sub"), {"sub": 3}, "t.sub: must be a table"),
        (lambda t: t.done(), {"colour": 1}, "t.colour: unknown key"),
        (lambda t: t.done(), {"rte": 1}, "t.rte: unknown key; did you mean `rate`?"),
        (
            lambda t: t.string("name", check=lambda s: int(s) and s),
            {"name": "x"},
            "t.name: invalid literal for int() with base 10: 'x'",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(
    read: Callable[[Table], object], values: dict[str, Any], message: str
) -> None:
    with pytest.raises(TableError) as e:
        read(_table(**values))
    assert str(e.value) == message


def test_values_come_back_typed_and_defaults_fill_in() -> None:
    t = _table(name=" a ", rate=2, count=3, on=True, kind="b")
    assert t.string("name") == "a"
    assert t.number("rate", None, low=0) == 2.0
    assert isinstance(t.number("rate", None), float)
    assert (t.integer("count", low=1), t.boolean("on", False), t.choice("kind", ("a", "b"))) == (
        3,
        True,
        "b",
    )
    assert (t.share("share", 0.25), t.optional_string("sub"), t.table("sub")) == (0.25, None, {})
    t.done()


def test_a_files_top_level_names_the_key_alone() -> None:
    with pytest.raises(TableError, match=r"^f\.toml: perod: unknown key; did you mean `period`\?$"):
        Table({"perod": 1}, "f.toml", ("period",), sep=": ").done()
    with pytest.raises(TableError, match=r"^perod: unknown key"):
        Table({"perod": 1}, "", ("period",)).done()


def test_lsl_table_uses_the_same_lines() -> None:
    with pytest.raises(ValueError, match=r"^lsl\.wait: must be >= 0, got -1$"):
        LslConfig.from_mapping({"wait": -1})
    with pytest.raises(ValueError, match=r"^lsl\.publsh: unknown key; did you mean `publish`\?$"):
        LslConfig.from_mapping({"publsh": True})
    assert LslConfig.from_mapping({"wait": 2, "name": "Lab"}) == LslConfig(wait=2.0, name="Lab")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[egine]\n", "egine: unknown key; did you mean `engine`?"),
        ("data_dir = 5\n", "data_dir: expected a string, got 5"),
        ("spool = 3\n", "spool: must be a table"),
        ("[ble]\nodr_hz = 150\n", "ble.odr_hz: expected one of 50, 100, 200, 400, got 150"),
        ("[lsl]\nresolve_timeout = 0\n", "lsl.resolve_timeout: must be > 0, got 0"),
        ('[influx]\nurl = "http://a"\ntimeout_s = -1\n', "influx.timeout_s: must be > 0, got -1"),
        ("[spool]\nmax_gb = 1\n", "spool.max_gb: unknown key; did you mean `max_mb`?"),
    ],
)
def test_config_file_mistakes_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mirrorwatch.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(path, None)
    assert str(e.value) == f"{path}: {message}"
