"""`[influx]` and `[spool]` in mirrorwatch.toml, the MIRRORWATCH_INFLUX_* environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.engine.config import ConfigError
from pipeline.settings import DEFAULT_SPOOL_MAX_MB, load_settings

SECRET = "tok-9f8e7d6c"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("URL", "ORG", "BUCKET", "TOKEN", "TOKEN_FILE"):
        monkeypatch.delenv(f"MIRRORWATCH_INFLUX_{key}", raising=False)


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mirrorwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_without_influx_the_spool_is_the_store(tmp_path: Path) -> None:
    s = load_settings(config(tmp_path, "[engine]\nk_on = 8.0\n"), tmp_path)
    assert s.influx is None
    assert s.spool_max_bytes == DEFAULT_SPOOL_MAX_MB * 1024 * 1024


def test_file_settings_and_a_token_file_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET + "\n", encoding="utf-8")
    path = config(
        tmp_path,
        '[influx]\nurl = "https://db:8086/"\norg = "lab"\nbucket = "mw"\n'
        'token_file = "token"\ninsecure = true\nbatch_size = 1000\n[spool]\nmax_mb = 64\n',
    )
    s = load_settings(path, tmp_path)
    assert s.influx is not None
    assert (s.influx.url, s.influx.org, s.influx.bucket) == ("https://db:8086", "lab", "mw")
    assert s.influx.token == SECRET
    assert s.influx.insecure is True
    assert s.influx.batch_size == 1000
    assert s.spool_max_bytes == 64 * 1024 * 1024
    assert SECRET not in repr(s)  # settings may be logged; the token never is


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config(tmp_path, '[influx]\nurl = "http://a:8086"\norg = "a"\nbucket = "a"\n')
    monkeypatch.setenv("MIRRORWATCH_INFLUX_URL", "http://b:8086")
    monkeypatch.setenv("MIRRORWATCH_INFLUX_BUCKET", "b")
    monkeypatch.setenv("MIRRORWATCH_INFLUX_TOKEN", SECRET)
    s = load_settings(path, tmp_path)
    assert s.influx is not None
    assert (s.influx.url, s.influx.org, s.influx.bucket, s.influx.token) == (
        "http://b:8086",
        "a",
        "b",
        SECRET,
    )


def test_environment_alone_configures_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "t").write_text(SECRET, encoding="utf-8")
    for key, value in {"URL": "http://db:8086", "ORG": "o", "BUCKET": "b"}.items():
        monkeypatch.setenv(f"MIRRORWATCH_INFLUX_{key}", value)
    monkeypatch.setenv("MIRRORWATCH_INFLUX_TOKEN_FILE", str(tmp_path / "t"))
    s = load_settings(config(tmp_path, ""), tmp_path)
    assert s.influx is not None
    assert s.influx.token == SECRET


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f'[influx]\nurl = "http://a"\ntoken = "{SECRET}"\n',
            "influx.token: not read from files",
        ),
        ('[influx]\nurl = "http://a"\norg = "o"\nbucket = "b"\n', "no InfluxDB token"),
        ('[influx]\nurl = "http://a"\nbucket = "b"\n', "influx.org is not set"),
        ('[influx]\nurl = "db:8086"\n', "must start with http"),
        (
            '[influx]\nurl = "http://a"\napi = "v3"\n',
            "influx.api: expected one of v1, v2, got 'v3'",
        ),
        (
            '[influx]\nurl = "http://a"\nbatch = 5\n',
            "influx.batch: unknown key; did you mean `batch_size`?",
        ),
        (
            '[influx]\nurl = "http://a"\ninsecure = "yes"\n',
            "influx.insecure: expected true or false, got 'yes'",
        ),
        ("[spool]\nmax_mb = 0\n", "spool.max_mb: must be >= 1, got 0"),
        ('[influx]\nurl = "http://a"\norg = "o"\nbucket = "b"\ntoken_file = "no"\n', "cannot read"),
    ],
)
def test_mistakes_name_the_key_and_never_echo_the_token(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        load_settings(config(tmp_path, text), tmp_path)
    assert SECRET not in str(e.value)


def test_v1_needs_no_org_and_no_token(tmp_path: Path) -> None:
    path = config(tmp_path, '[influx]\napi = "v1"\nurl = "http://a:8086"\nbucket = "mw/autogen"\n')
    s = load_settings(path, tmp_path)
    assert s.influx is not None
    assert (s.influx.api, s.influx.org, s.influx.token) == ("v1", "", "")
