"""Lab Streaming Layer for the CLI: `--lsl` on demo/monitor/assess, `--source lsl:L,R`.

pylsl (with liblsl) is optional, the `lsl` extra: it is imported only when asked for,
and its absence is one line. liblsl's own log goes to stderr at INFO level unless a
config says otherwise; without the user's own lsl_api.cfg we keep it to fatal errors,
since what the user needs to know is said here, in one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pipeline.commands import UsageError
from pipeline.commands.sources import Opened
from pipeline.settings import Settings
from sensors.types import Side

if TYPE_CHECKING:
    from pipeline.lsl_outlet import LslPublisher

T = TypeVar("T")
_NEEDS = "pip install 'mirrorwatch[lsl]'"
# where liblsl looks for its config (besides $LSLAPICFG); a user's file is left in charge
_CONFIGS = ("lsl_api.cfg", "~/lsl_api/lsl_api.cfg", "/etc/lsl_api/lsl_api.cfg")


def add_lsl_option(p: argparse.ArgumentParser) -> None:
    """The `--lsl` flag of the verbs that can publish."""
    p.add_argument(
        "--lsl",
        action="store_true",
        help="publish both wrists and the movement events on Lab Streaming Layer "
        "(also [lsl] publish = true)",
    )


def _pylsl() -> None:
    """Load pylsl once, quietly; UsageError if it is not installed."""
    try:
        import pylsl
    except ImportError:
        raise UsageError(f"LSL needs pylsl: {_NEEDS}") from None
    except (OSError, RuntimeError) as e:  # pylsl found no usable liblsl for this platform
        raise UsageError(f"LSL: pylsl cannot load liblsl ({e})") from None
    own = os.environ.get("LSLAPICFG") or any(Path(c).expanduser().is_file() for c in _CONFIGS)
    if not own:
        pylsl.set_config_content("[log]\nlevel = -3\n")


def publisher(
    args: argparse.Namespace,
    settings: Settings,
    session_id: str,
    fs: float,
    label: str,
    source: object = None,
) -> LslPublisher | None:
    """The publisher of session `session_id` (its grid `fs` Hz, its source's `label`) if
    `--lsl` or `[lsl] publish` asks for one, else None."""
    if not (getattr(args, "lsl", False) or settings.lsl.publish):
        return None
    _pylsl()
    from pipeline.lsl_outlet import LslPublisher

    def origin() -> float | None:
        # live sources (BLE, LSL) know the host clock at session time zero
        value = getattr(source, "origin", None)
        return value if isinstance(value, float) and value > 0 else None

    name = settings.lsl.name
    pub = LslPublisher(name, fs, session_id, label, origin)
    print(f"lsl: publishing '{name} L', '{name} R' and '{name} events'", file=sys.stderr)
    if settings.lsl.wait > 0:
        print(f"lsl: waiting up to {settings.lsl.wait:g} s for a recorder", file=sys.stderr)
        if not pub.wait_for_recorder(settings.lsl.wait):
            print("lsl: not every stream has a recorder; starting anyway", file=sys.stderr)
    return pub


def both(first: Callable[[T], None], pub: LslPublisher | None, what: str) -> Callable[[T], None]:
    """`first`, then the publisher's `what` ("block" or "event") when publishing."""
    if pub is None:
        return first
    second: Callable[[T], None] = getattr(pub, what)

    def call(x: T) -> None:
        first(x)
        second(x)

    return call


def finish(pub: LslPublisher | None) -> None:
    """Withdraw the streams and say what went out."""
    if pub is None:
        return
    pub.close()
    print(
        f"lsl: published {pub.samples[Side.L]} + {pub.samples[Side.R]} samples, "
        f"{pub.markers} markers",
        file=sys.stderr,
    )


def lsl_source(names: str, settings: Settings) -> Opened:
    """`--source lsl:NAME_L,NAME_R`: two existing LSL streams as the wrists, live."""
    parts = [n.strip() for n in names.split(",")]
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"--source lsl:{names}: expected lsl:NAME_L,NAME_R")
    _pylsl()
    from sensors.lsl import LslSource, open_wrists

    try:
        wrists = open_wrists((parts[0], parts[1]), settings.lsl.resolve_timeout)
    except ValueError as e:
        raise UsageError(f"--source lsl: {e}") from None
    source = LslSource(wrists)
    fs = max(w.fs for w in wrists.values())

    def link(side: Side) -> str | None:
        return f"lsl {source.state[side]}"

    return Opened(source, f"lsl:{parts[0]},{parts[1]}", fs, live=True, link=link)
