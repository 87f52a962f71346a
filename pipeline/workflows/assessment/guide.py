"""The examiner's guide: a pure state machine that walks a protocol on the session clock.

It is told the session time (`advance`) and the examiner's commands (pause, resume,
repeat, skip), and answers with what to say and which task the engine should
score from when. Phase boundaries are computed from the previous boundary, not from
the time a block happened to arrive, so an uninterrupted run follows
`nominal_schedule` exactly - the schedule a simulated subject performs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pipeline.workflows.assessment.protocol import Protocol, ProtocolTask
from pipeline.workflows.assessment.timeline import Status, Window, cues
from sensors.types import Side


@dataclass(frozen=True, slots=True)
class Say:
    """A line for the examiner; `cue` marks a metronome beat (shown, not logged)."""

    t: float
    text: str
    cue: bool = False


@dataclass(frozen=True, slots=True)
class SetTask:
    """From `start` s, movements belong to task `name` with intended hand `active`."""

    name: str | None
    active: Side | None
    start: float


Step = Say | SetTask


class Phase(Enum):
    COUNTDOWN = "countdown"
    RUNNING = "running"
    REST = "rest"
    PAUSED = "paused"
    FINISHED = "finished"


class Guide:
    """Walks `protocol` task by task; `windows` records every attempt and how it ended."""

    def __init__(self, protocol: Protocol) -> None:
        self._p = protocol
        self._i = 0  # current task
        self._phase = Phase.COUNTDOWN
        self._since = 0.0  # s, when the current phase began
        self._beats = 0  # cues announced in the running task
        self._ticks = 0  # countdown seconds announced
        self.windows: list[Window] = []
        self._announced = False

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def task(self) -> ProtocolTask | None:
        return self._p.tasks[self._i] if self._i < len(self._p.tasks) else None

    def advance(self, t: float) -> list[Step]:
        """Everything due up to session time `t`."""
        out: list[Step] = []
        while True:
            task = self.task
            if task is None or self._phase in (Phase.PAUSED, Phase.FINISHED):
                return out
            if self._phase is Phase.COUNTDOWN:
                if not self._announced:
                    self._announced = True
                    n = f"{self._i + 1}/{len(self._p.tasks)}"
                    out.append(Say(self._since, f"task {n} {task.name}: {task.instruction}"))
                go = self._since + self._p.countdown
                while self._ticks < int(self._p.countdown) and (
                    tick := go - int(self._p.countdown) + self._ticks
                ) <= min(t, go):
                    out.append(Say(tick, f"  {int(self._p.countdown) - self._ticks}...", cue=True))
                    self._ticks += 1
                if t < go:
                    return out
                out += self._start(go)
            elif self._phase is Phase.RUNNING:
                beats = cues(task, self._since)
                while self._beats < len(beats) and beats[self._beats] <= t:
                    b = self._beats + 1
                    out.append(Say(beats[self._beats], f"  beat {b}/{len(beats)}", cue=True))
                    self._beats += 1
                end = self._since + task.duration
                if t < end:
                    return out
                out += self._end(end, Status.DONE)
            else:  # REST
                nxt = self._since + task.rest
                if t < nxt:
                    return out
                self._next(nxt)

    def pause(self, t: float) -> list[Step]:
        """Stop now; the current task (or the next one, between tasks) reruns on resume."""
        if self._phase in (Phase.PAUSED, Phase.FINISHED):
            return []
        if self._phase is Phase.REST:
            self._i += 1  # the task just done stays done; the next one runs on resume
        out = self._abandon(t, Status.PAUSED)
        self._phase, self._since = Phase.PAUSED, t
        return [*out, Say(t, "paused (p resumes)")]

    def resume(self, t: float) -> list[Step]:
        if self._phase is not Phase.PAUSED:
            return []
        self._restart(t)
        return self.advance(t)

    def repeat(self, t: float) -> list[Step]:
        """Run the current task again from a new countdown (during rest: the one just done)."""
        if self._phase in (Phase.PAUSED, Phase.FINISHED):
            return []
        if self._phase is Phase.REST and self.windows:
            self.windows[-1] = _with_status(self.windows[-1], Status.REPEATED)
        out = self._abandon(t, Status.REPEATED)
        self._restart(t)
        return [*out, Say(t, "repeating"), *self.advance(t)]

    def skip(self, t: float) -> list[Step]:
        """Leave the current task now (during its countdown: before it began; during a
        rest: the rest); the next one starts with its countdown."""
        if self._phase in (Phase.PAUSED, Phase.FINISHED):
            return []
        task = self.task
        if self._phase is Phase.COUNTDOWN and task is not None:
            # listed, so the report shows the task was not done
            self.windows.append(Window(task.name, task.active, t, t, 0, (), Status.SKIPPED))
        out = self._abandon(t, Status.SKIPPED)
        self._next(t)
        return [*out, Say(t, "skipped"), *self.advance(t)]

    def stop(self, t: float) -> list[Step]:
        """The session ends now: a running task is recorded as stopped."""
        out = self._abandon(t, Status.STOPPED)
        self._phase = Phase.FINISHED
        return out

    def _start(self, t: float) -> list[Step]:
        task = self.task
        assert task is not None
        self._phase, self._since, self._beats = Phase.RUNNING, t, 0
        return [SetTask(task.name, task.active.side, t), Say(t, f"  go: {task.name}")]

    def _end(self, t: float, status: Status) -> list[Step]:
        task = self.task
        assert task is not None
        start = self._since
        beats = cues(task, start)
        done = self._beats if status is not Status.DONE else len(beats)
        expected = task.repetitions if status is Status.DONE else done
        self.windows.append(
            Window(task.name, task.active, start, t, expected, beats[:done], status)
        )
        self._phase, self._since = Phase.REST, t
        return [SetTask(None, None, t), Say(t, f"  {status.value}: {task.name}")]

    def _abandon(self, t: float, status: Status) -> list[Step]:
        return self._end(t, status) if self._phase is Phase.RUNNING else []

    def _next(self, t: float) -> None:
        self._i += 1
        self._restart(t)

    def _restart(self, t: float) -> None:
        self._phase, self._since = Phase.COUNTDOWN, t
        self._ticks, self._announced = 0, False
        if self.task is None:
            self._phase = Phase.FINISHED


def _with_status(w: Window, status: Status) -> Window:
    return Window(w.name, w.active, w.start, w.end, w.expected, w.cues, status)
