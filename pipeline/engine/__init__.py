"""The pure online engine: IMU blocks in, movement events out.

Everything here is synchronous and free of I/O, asyncio and clock reads: time comes
with the data, so the same engine runs live, on a replay and in tests. Its per-row
modules are the only code mypyc compiles (pipeline/compiled.py names them).
"""

from pipeline.engine.core import Engine, EngineStats, movements

__all__ = ["Engine", "EngineStats", "movements"]
