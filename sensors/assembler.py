"""One wrist's notifications -> ImuBlocks on the session clock (DESIGN.md §1, §6).

Per packet: decode (sensors/protocols/), drop duplicates and stale packets by sequence
number, map sensor ticks through the wrist's SensorClock, and count the samples missing
since the previous packet into `ImuBlock.lost`: from the sensor's ticks while its clock
runs on (exact, also across sequence wrap and long outages), from the session clock
across a sensor restart (its ticks say nothing about the time in between).

`lost` counts every sample missing in time before a block, whatever the cause: radio
loss, an overflowing sensor FIFO, a stop and start, time without a connection.

Clock trouble: ticks that jump back (or reset to zero without the restart flag) or run
ahead of the host's time start a new clock epoch anchored on the packet's arrival
(SensorClock), so what follows is kept and counted (`clock_back`, `clock_forward`, and
in `resets`). A tick that stands still while new packets keep coming (a stalled sensor
clock) is replaced by the last moving tick plus the samples taken since, at the packet's
nominal rate; those packets are counted as `stalled` and are not used to fit the clock.

Session times of a side must increase from block to block. Early on the clock estimate
moves earlier as smaller delays are seen, so a block may start before the previous one
ended; its first samples are then pushed just after it (`retimed` counts them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sensors.clock import SensorClock
from sensors.protocols.base import Decoder, Frame, Reason
from sensors.types import ImuBlock, RawPacket, Side

__all__ = ["AssemblerStats", "BlockAssembler"]

# A packet at most this many behind the last one is a late copy and dropped; further
# behind, the sensor restarted its counter and the packet is taken.
_REORDER_WINDOW = 64
# After this long without packets (s) the counter may have wrapped any number of times:
# only the ticks can tell continuity then.
_SEQ_MEMORY = 10.0
# A packet this much sample time (s) behind the newest one is no late copy.
_MAX_REORDER_S = 0.5
_DEFAULT_DRIFT_PPM = 200.0  # SensorClock's default: crystal-timed sensors


@dataclass(frozen=True, slots=True)
class AssemblerStats:
    """Counters since the assembler was created.

    `packets` fed; `blocks` and `samples` emitted; `lost` samples known missing (sum of
    the blocks' `lost`); `malformed` packets the decoder skipped; `duplicates` and
    `out_of_order` packets dropped; `resets` sensor clock restarts after the first
    packet (any cause), of them `clock_back` where the ticks went back or fell behind
    host time without the restart flag and `clock_forward` where they ran ahead;
    `stalled` packets whose tick had not moved (timed from the samples before them);
    `retimed` samples moved later to keep session time increasing.
    """

    packets: int = 0
    blocks: int = 0
    samples: int = 0
    lost: int = 0
    malformed: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    resets: int = 0
    clock_back: int = 0
    clock_forward: int = 0
    stalled: int = 0
    retimed: int = 0


class BlockAssembler:
    """RawPackets of one side -> ImuBlocks; see the module docstring."""

    __slots__ = (
        "_blocks",
        "_carried",
        "_clock",
        "_decoder",
        "_duplicates",
        "_good_tick",
        "_last_arrival",
        "_last_len",
        "_last_raw_tick",
        "_last_s",
        "_last_seq",
        "_last_t",
        "_lost",
        "_out_of_order",
        "_packets",
        "_resets",
        "_retimed",
        "_samples",
        "_since_good",
        "_stalled",
        "side",
    )

    def __init__(self, side: Side, decoder: Decoder, clock: SensorClock | None = None) -> None:
        self.side = side
        self._decoder = decoder
        self._clock = clock if clock is not None else _clock_for(decoder)
        self._carried: dict[Reason, int] = {}  # skips of decoders replaced by `use`
        self._last_seq: int | None = None
        self._last_arrival = 0.0
        self._last_s = 0.0
        self._last_t: float | None = None
        self._packets = self._blocks = self._samples = self._lost = 0
        self._duplicates = self._out_of_order = self._resets = self._retimed = 0
        self._stalled = 0
        # Stall handling: the raw tick and length of the last packet taken, the last tick
        # that moved, and the samples from it to the last packet's first sample.
        self._last_raw_tick: int | None = None
        self._last_len = 0
        self._good_tick = 0
        self._since_good = 0

    @property
    def clock(self) -> SensorClock:
        return self._clock

    @property
    def decoder(self) -> Decoder:
        return self._decoder

    def use(self, decoder: Decoder) -> None:
        """Decode what follows with `decoder` (a new stream: a reconnect, new settings).

        Counters, sequence memory and the sensor clock carry on, so a gap across the
        change is counted as for any gap; a decoder whose ticks wrap differently (another
        make of sensor at this address) gets a clock of its own.
        """
        if decoder is self._decoder:
            return
        for reason, n in self._decoder.skipped().items():
            self._carried[reason] = self._carried.get(reason, 0) + n
        if decoder.tick_modulus != self._decoder.tick_modulus or _drift(decoder) != _drift(
            self._decoder
        ):
            self._clock = _clock_for(decoder)
        self._decoder = decoder

    @property
    def stats(self) -> AssemblerStats:
        skipped = self.skipped()
        return AssemblerStats(
            packets=self._packets,
            blocks=self._blocks,
            samples=self._samples,
            lost=self._lost,
            malformed=sum(n for reason, n in skipped.items() if reason is not Reason.UNPAIRED),
            duplicates=self._duplicates,
            out_of_order=self._out_of_order,
            resets=self._resets,
            clock_back=self._clock.restarts.backward,
            clock_forward=self._clock.restarts.forward,
            stalled=self._stalled,
            retimed=self._retimed,
        )

    def skipped(self) -> Mapping[Reason, int]:
        """The decoders' skip counts by reason."""
        out = dict(self._carried)
        for reason, n in self._decoder.skipped().items():
            out[reason] = out.get(reason, 0) + n
        return out

    def feed(self, packet: RawPacket) -> list[ImuBlock]:
        """Blocks decoded from one notification (none for bad or repeated packets)."""
        if packet.side is not self.side:
            raise ValueError(f"packet of side {packet.side} fed to the {self.side} assembler")
        self._packets += 1
        out = []
        for frame in self._decoder.decode(packet.data):
            block = self._assemble(frame, packet.received_at)
            if block is not None:
                out.append(block)
        return out

    def _assemble(self, frame: Frame, arrival: float) -> ImuBlock | None:
        modulus = self._decoder.seq_modulus
        fresh = self._last_seq is not None and arrival - self._last_arrival < _SEQ_MEMORY
        ahead = 1
        if frame.seq is not None and modulus is not None and fresh and not frame.restarted:
            # far behind means the counter restarted: the ticks tell whether the clock did
            ahead = (frame.seq - (self._last_seq or 0)) % modulus
            if ahead == 0 and frame.tick == self._last_raw_tick:
                self._duplicates += 1
                return None
            if 0 < modulus - ahead <= _REORDER_WINDOW and self._late_copy(frame, modulus - ahead):
                self._out_of_order += 1
                return None
            if ahead > _REORDER_WINDOW or ahead == 0:
                ahead = 1  # a restarted counter: the packets in between are unknown
        tick, measured = self._tick(frame, ahead)
        epoch = self._clock.epoch
        s0 = self._clock.observe(
            tick,
            frame.tick_hz,
            arrival,
            lead=float(frame.offsets[-1]),
            restarted=frame.restarted,
            fit=measured,
        )
        s = s0 + frame.offsets
        t = self._clock.to_session(s)
        lost = 0
        if self._last_t is not None:
            if self._clock.epoch != epoch:
                self._resets += 1
                lost = max(0, round((float(t[0]) - self._last_t) * frame.odr_hz) - 1)
            else:
                lost = max(0, round((s0 - self._last_s) * frame.odr_hz) - 1)
            floor = self._last_t + (0.5 / frame.odr_hz) * np.arange(1, len(frame) + 1)
            pushed = t < floor
            if pushed.any():
                self._retimed += int(np.count_nonzero(pushed))
                t = np.maximum(t, floor)
        self._last_seq = frame.seq
        self._last_raw_tick, self._last_len = frame.tick, len(frame)
        self._last_arrival = arrival
        self._last_s = float(s[-1])
        self._last_t = float(t[-1])
        self._blocks += 1
        self._samples += len(frame)
        self._lost += lost
        seq = frame.seq if frame.seq is not None else self._blocks - 1
        return ImuBlock(self.side, t, frame.acc, frame.gyr, seq=seq, lost=lost)

    def _late_copy(self, frame: Frame, behind: int) -> bool:
        """Whether a packet `behind` packets before the last one has the tick to match.

        If not, the sensor restarted its counter (a reboot without the restart flag soon
        after power-on) and the packet is new.
        """
        if self._last_raw_tick is None:
            return True
        if behind * len(frame) / frame.odr_hz > _MAX_REORDER_S:
            # BLE delivers notifications in order; only the host's queues can swap a
            # few. Seconds behind with matching ticks is a reboot that restarted both.
            return False
        per_packet = len(frame) * frame.tick_hz / frame.odr_hz
        back = self._last_raw_tick - frame.tick
        modulus = self._decoder.tick_modulus
        if modulus is not None:
            back %= modulus
        return abs(back - behind * per_packet) <= per_packet

    def _tick(self, frame: Frame, ahead: int) -> tuple[int, bool]:
        """The frame's tick, and whether the sensor measured it (False: estimated).

        A tick equal to the last packet's, in a packet that is new (`ahead` packets on),
        means the sensor's clock stalled: the samples still came at the output rate, so
        the tick is the last moving one plus the samples since then in ticks.
        """
        stalled = (
            frame.tick == self._last_raw_tick
            and not frame.restarted
            and frame.tick_hz == self._clock.tick_hz
        )
        if not stalled:
            self._good_tick, self._since_good = frame.tick, 0
            return frame.tick, True
        self._stalled += 1
        self._since_good += self._last_len + (ahead - 1) * len(frame)
        tick = self._good_tick + round(self._since_good * frame.tick_hz / frame.odr_hz)
        modulus = self._decoder.tick_modulus
        return (tick % modulus if modulus is not None else tick), False


def _drift(decoder: Decoder) -> float:
    """How far the sensor's ticks may run from nominal, ppm: a decoder whose ticks count
    samples of a chip's own oscillator says so with `max_drift_ppm`."""
    return float(getattr(decoder, "max_drift_ppm", _DEFAULT_DRIFT_PPM))


def _clock_for(decoder: Decoder) -> SensorClock:
    return SensorClock(tick_modulus=decoder.tick_modulus, max_drift_ppm=_drift(decoder))
