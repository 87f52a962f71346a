"""The async source contract and the pacing shared by simulated and replayed sources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from sensors.types import ImuBlock


class Source(Protocol):
    """Yields blocks of both wrists, each side in time order, on the session clock."""

    def blocks(self) -> AsyncIterator[ImuBlock]: ...


async def paced(blocks: Iterable[ImuBlock], speed: float | None) -> AsyncIterator[ImuBlock]:
    """Yield `blocks`, waiting until each block's last sample is due.

    `speed` is a multiple of real time (1.0 = real time); None means as fast as
    possible, still yielding to the event loop so consumers and shutdown run.
    """
    if speed is not None and speed <= 0:
        raise ValueError("speed must be > 0")
    start = time.monotonic()
    for block in blocks:
        if speed is not None and len(block):
            due = start + float(block.t[-1]) / speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
        else:
            await asyncio.sleep(0)
        yield block
