"""Clock sync accuracy: residual timestamp error of the sensor-clock estimate, online.

    .venv/bin/python benchmarks/clock_sync.py [--seconds 300] [--seeds 5]

One simulated wrist streams MirrorWatch packets (200 Hz, 10 samples per packet, 32768 Hz
tick starting 10 s before its 2^32 wrap) through the real BlockAssembler. Its crystal
runs `ppm` fast or slow. The IMU samples on its own oscillator, 0.3 % off its nominal
rate (the firmware stamps each packet's first sample with the tick, the gateway assumes
nominal spacing inside a packet), except in `locked`. Each packet leaves once its last
sample is taken and arrives after a delay from one of four models:

  uniform   0-30 ms, uniform (the issue's model)
  stalls    uniform 0-30 ms, and 2 % of packets held back 50-250 ms (retransmissions)
  events    sent at the next 30 ms connection event (host clock, random phase), packets
            queued together arrive together, plus host latency 0.2 ms + exp(0.5 ms)
  locked    events, but the IMU clocked from the sensor crystal: packet period (50 ms)
            and connection interval stay commensurate, so the delays take 3 values and
            the smallest is unobservable (firmware_notes/timing.md, "Phase lock")

Error = emitted session time of a sample - the true time it was taken, as the estimate
stood when the block was emitted (no hindsight). Each cell: the largest |error| in ms
over the 5 s ending at that time, worst over seeds; then the drift estimate at the end.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from sensors.assembler import BlockAssembler
from sensors.protocols.mirrorwatch import MirrorWatchDecoder, Packet, encode_packet
from sensors.types import RawPacket, Side

ODR = 200
N = 10  # samples per packet
HZ = 32768
TICK0 = 2**32 - 10 * HZ  # wraps 10 s in
CHECKPOINTS = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

Delays = Callable[[np.random.Generator, np.ndarray], np.ndarray]


def uniform(rng: np.random.Generator, ready: np.ndarray) -> np.ndarray:
    return ready + rng.uniform(0.0, 0.030, ready.size)


def events(rng: np.random.Generator, ready: np.ndarray) -> np.ndarray:
    ci, phase = 0.030, rng.uniform(0.0, 0.030)
    sent = phase + np.ceil((ready - phase) / ci) * ci
    return sent + 0.0002 + rng.exponential(0.0005, ready.size)


def stalls(rng: np.random.Generator, ready: np.ndarray) -> np.ndarray:
    arrival = uniform(rng, ready)
    held = rng.random(ready.size) < 0.02
    arrival[held] += rng.uniform(0.050, 0.250, int(held.sum()))
    # a held packet holds back the ones behind it: a link delivers in order
    return np.maximum.accumulate(arrival)


# name -> (delay model, IMU rate error against the sensor crystal)
MODELS: dict[str, tuple[Delays, float]] = {
    "uniform": (uniform, 0.003),
    "stalls": (stalls, 0.003),
    "events": (events, 0.003),
    "locked": (events, 0.0),
}


def run(
    ppm: float, model: Delays, imu_error: float, seconds: float, seed: int
) -> tuple[np.ndarray, float]:
    """Max |error| (s) in the 5 s before each checkpoint, and the final drift estimate."""
    rng = np.random.default_rng(seed)
    packets = int(seconds * ODR / N)
    # sensor seconds and true session seconds of every sample
    sensor = np.arange(packets * N) * (1 + imu_error) / ODR
    true = sensor / (1 + ppm * 1e-6)
    ready = true[N - 1 :: N]
    arrival = np.maximum.accumulate(model(rng, ready))  # a link delivers in order
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    raw = np.zeros((N, 3), np.int16)
    true_t, err = [], []
    for k in range(packets):
        tick = (TICK0 + round(sensor[k * N] * HZ)) % 2**32
        data = encode_packet(Packet(seq=k % 65536, tick=tick, raw_acc=raw, odr_hz=ODR))
        for block in asm.feed(RawPacket(Side.L, float(arrival[k]), data)):
            truth = true[k * N : (k + 1) * N]
            true_t.append(truth)
            err.append(block.t - truth)
    t, e = np.concatenate(true_t), np.abs(np.concatenate(err))
    worst = np.array([e[(t > c - 5.0) & (t <= c)].max() for c in CHECKPOINTS if c <= seconds])
    return worst, asm.clock.estimate.drift_ppm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    cols = [c for c in CHECKPOINTS if c <= args.seconds]
    print("max |error| (ms) in the 5 s before t, worst of", args.seeds, "seeds")
    print(f"{'ppm':>5} {'delays':<8}" + "".join(f"{f't={c:g}s':>9}" for c in cols) + "  drift est")
    for ppm in (-50.0, 0.0, 50.0):
        for name, (model, imu_error) in MODELS.items():
            runs = [run(ppm, model, imu_error, args.seconds, seed) for seed in range(args.seeds)]
            worst = np.max([w for w, _ in runs], axis=0) * 1e3
            drifts = [d for _, d in runs]
            cells = "".join(f"{w:9.3f}" for w in worst)
            print(f"{ppm:+5.0f} {name:<8}{cells}  {min(drifts):+.1f}..{max(drifts):+.1f} ppm")


if __name__ == "__main__":
    main()
