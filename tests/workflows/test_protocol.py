"""Protocol files: the shipped ones, and one clear error naming the key for a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.engine.config import ConfigError
from pipeline.workflows.assessment.protocol import Hand, builtin_protocols, load_protocol

GOOD = """
name = "mine"
countdown = 2
[[task]]
name = "rest"
instruction = "Sit still."
active = "none"
duration = 10
[[task]]
name = "tap-L"
instruction = "Tap."
active = "L"
motion = "tapping"
period = 2.0
duration = 9.0
"""


def test_shipped_protocols_cover_the_batteries() -> None:
    assert {"firearm-handling", "woods-teuber"} <= set(builtin_protocols())
    fh = load_protocol("firearm-handling")
    names = [t.name for t in fh.tasks]
    assert names[0] == "rest"
    assert fh.tasks[0].active is Hand.NONE
    assert names.index("trigger-R") < names.index("trigger-L")
    assert any(t.active is Hand.BOTH for t in fh.tasks)
    motions = {t.motion for t in fh.tasks}
    assert {"trigger", "grip", "wrist-flex", "tapping", "pronation"} <= motions
    wt = load_protocol("woods-teuber")
    assert {t.motion for t in wt.tasks if t.motion} == {
        "opposition",
        "tapping",
        "grip",
        "wrist-flex",
    }
    for t in wt.tasks:
        if t.active is not Hand.NONE:
            assert t.repetitions >= 1
            assert t.period is not None


def test_a_user_file_with_duration_gives_whole_repetitions(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD, encoding="utf-8")
    p = load_protocol(str(path))
    tap = p.tasks[1]
    assert (tap.repetitions, tap.duration, tap.rest) == (4, 8.0, 8.0)
    assert p.origin == str(path)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('active = "L"', 'active = "left"'), "task[2].active"),
        (("period = 2.0", "period = 0.2"), "task[2].period"),
        (('motion = "tapping"', 'motion = "juggling"'), "task[2].motion"),
        (("duration = 9.0", "duration = 9.0\nrepetitions = 3"), "task[2].repetitions"),
        (("countdown = 2", "countdown = 2\ncolour = 1"), "colour"),
        (('instruction = "Tap."', "instruction = 3"), "task[2].instruction"),
        (('name = "tap-L"', 'name = "rest"'), "task[2].name"),
        (("duration = 10", "duration = 10\nmotion = 'grip'"), "task[1].motion"),
    ],
)
def test_a_bad_file_names_the_key(tmp_path: Path, change: tuple[str, str], key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(*change, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_protocol(str(path))
    message = str(err.value)
    assert message.startswith(f"{path}: {key}") or f": {key}:" in message, message
    assert "\n" not in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_protocol(str(path))


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (
            "mirror_share = 30",
            "limits.mirror_share: a share must be in [0, 1] (0.3 for 30%), got 30",
        ),
        ("mirror_share = -0.1", "limits.mirror_share: must be >= 0, got -0.1"),
        ("median_ratio = 0", "limits.median_ratio: must be > 0, got 0"),
        ("median_ratio = nan", "limits.median_ratio: expected a number, got nan"),
        ("worst_grade = 5", "limits.worst_grade: must be 0-4, got 5"),
        ("worst_grade = 2.5", "limits.worst_grade: expected a whole number, got 2.5"),
        ("data_floor = 90", "limits.data_floor: a share must be in [0, 1] (0.3 for 30%), got 90"),
        ("source = ''", "limits.source: expected a non-empty string, got ''"),
    ],
)
def test_every_limit_is_range_checked(tmp_path: Path, limits: str, expected: str) -> None:
    path = tmp_path / "lim.toml"
    path.write_text(GOOD.replace("countdown = 2\n", f"countdown = 2\n[limits]\n{limits}\n"))
    with pytest.raises(ConfigError) as err:
        load_protocol(str(path))
    assert str(err.value) == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("period = 2.0", "perod = 2.0"), "task[2].perod: unknown key; did you mean `period`?"),
        (("countdown = 2", "countdwn = 2"), "countdwn: unknown key; did you mean `countdown`?"),
        (("countdown = 2", "countdown = 2\n[limits]\nworst_grde = 2"),
         "limits.worst_grde: unknown key; did you mean `worst_grade`?"),
        (("countdown = 2", "countdown = 2\ncolour = 1"), "colour: unknown key"),
    ],
)  # fmt: skip
def test_a_typo_of_a_known_key_suggests_it(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(GOOD.replace(*change, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_protocol(str(path))
    assert str(err.value) == f"{path}: {expected}"


def test_required_defaults_to_true_and_is_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "req.toml"
    path.write_text(GOOD.replace('active = "L"', 'active = "L"\nrequired = false'))
    p = load_protocol(str(path))
    assert [t.required for t in p.tasks] == [True, False]
    path.write_text(GOOD.replace('active = "L"', 'active = "L"\nrequired = "no"'))
    with pytest.raises(ConfigError, match=r"task\[2\]\.required: expected true or false"):
        load_protocol(str(path))
    shipped = load_protocol("firearm-handling")
    assert not next(t for t in shipped.tasks if t.active is Hand.BOTH).required
    assert "not a published norm" in shipped.limits.source
