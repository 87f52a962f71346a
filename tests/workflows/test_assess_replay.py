"""`assess --source FILE`: a recording replayed on the protocol's timeline."""

from __future__ import annotations

from pathlib import Path

from workflow_run import mirrorwatch

from pipeline.commands.assess import simulate_protocol
from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool
from pipeline.workflows.assessment.protocol import load_protocol
from pipeline.workflows.assessment.results import load_assessment
from sensors.recording import write_recording


def test_a_recorded_session_is_scored_per_task(tmp_path: Path) -> None:
    protocol = load_protocol("woods-teuber")
    sim = simulate_protocol(protocol, seed=5)
    rec = tmp_path / "woods-teuber.csv.gz"
    write_recording(rec, sim.blocks(), {"subject": "S07", "fs": "100"})
    data = tmp_path / "data"
    r = mirrorwatch(
        data, "assess", "--protocol", "woods-teuber", "--subject", "S07",
        "--source", str(rec), "--speed", "max", "--yes",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    with Spool.in_dir(data) as spool:
        info = spool.session("latest")
        a = load_assessment(spool, Aggregates(spool), info)
    assert info.source == f"replay:{rec.name}"
    assert [s.window.name for s in a.tasks] == [t.name for t in protocol.tasks]
    # Recall is the benchmarks' business (4 of 384 simulated movements missed, seeds 1-8,
    # e.g. a quick tap the tremor-burst check takes for one): here every task must be
    # scored from its own movements, a miss or an extra onset at most.
    for s in a.tasks:
        truth = [m for m in sim.truth if m.task == s.window.name]
        assert len(truth) == s.expected
        assert s.expected - 1 <= s.stats.movements <= s.expected + 1, s.window.name
        # the simulator's rest is calibrated to real wrists (fidgets, sway): a weak copy
        # or two per task can drown in it
        assert abs(s.stats.mirror - sum(m.kind == "mirror" for m in truth)) <= 2
    assert sum(s.stats.movements for s in a.tasks) >= sum(s.expected for s in a.tasks) - 1
