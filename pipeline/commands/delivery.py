"""Verbs about delivery to InfluxDB: push (send what is pending, exit) and status.

influxdb-client is imported only when a server is configured, so the verbs
that never deliver start as fast as before.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pipeline.commands import UsageError
from pipeline.settings import InfluxSettings, Settings
from pipeline.store.outbox import DeliveryStatus
from pipeline.store.spool import Spool, SpoolError

log = logging.getLogger(__name__)


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's verbs to the CLI."""
    p = verbs.add_parser("push", help="send what the spool holds for InfluxDB, then exit")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="s to keep retrying an unreachable server"
    )
    p.add_argument("--insecure", action="store_true", help="do not verify the https certificate")
    p.add_argument(
        "--requeue-quarantined",
        action="store_true",
        help="first send the rows the server refused (quarantined) again; those it "
        "accepts now leave the quarantine",
    )
    p.set_defaults(handler=push)

    p = verbs.add_parser("status", help="spool contents and delivery state")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(handler=status)


def influx_settings(settings: Settings, insecure: bool = False) -> InfluxSettings:
    """The configured server, or a UsageError saying how to configure one."""
    if settings.influx is None:
        raise UsageError(
            "InfluxDB is not configured: set url, org and bucket in [influx] of "
            "mirrorwatch.toml or MIRRORWATCH_INFLUX_URL/_ORG/_BUCKET"
        )
    return dataclasses.replace(settings.influx, insecure=True) if insecure else settings.influx


def push(args: argparse.Namespace) -> int:
    """Send every pending row; exit 2 with one line if the server did not take them all."""
    from pipeline.store.influx import InfluxWriter, transport_for

    settings: Settings = args.settings
    influx = influx_settings(settings, args.insecure)
    if influx.insecure:
        print(
            f"mirrorwatch: insecure: the certificate of {influx.url} is not verified",
            file=sys.stderr,
        )
    spool = Spool.in_dir(settings.data_dir, max_bytes=settings.spool_max_bytes)
    writer = InfluxWriter(spool, transport_for(influx), batch_size=influx.batch_size)
    try:
        result = writer.push(args.timeout, requeue_quarantined=args.requeue_quarantined)
        if result.error is None:
            spool.note_delivery_error(None)  # delivered: an older error is history
    finally:
        writer.close()
        spool.close()
    print(f"sent {result.sent} rows to {influx.url}, {result.pending} pending")
    if args.requeue_quarantined:
        print(
            f"requeued quarantined rows: {result.requeued} accepted, "
            f"{result.refused_again} refused again"
        )
    if result.refused_again:
        print(
            f"mirrorwatch: the server refused {result.refused_again} quarantined rows again "
            "(still quarantined, see `mirrorwatch status`)",
            file=sys.stderr,
        )
    if result.quarantined:
        print(
            f"mirrorwatch: the server refused {result.quarantined} rows (quarantined, see "
            "`mirrorwatch status`)",
            file=sys.stderr,
        )
    if result.error is not None:
        print(f"mirrorwatch: {result.error.message}", file=sys.stderr)
        return 2
    return 0


def continuous_delivery(
    settings: Settings, on_status: Callable[[DeliveryStatus], None] | None = None
) -> Callable[[asyncio.Event], Awaitable[None]] | None:
    """A `run_session` background job delivering while the session runs; None if unconfigured.

    `on_status` gets the delivery status every few seconds (for the live view).
    """
    if settings.influx is None:
        return None
    influx = settings.influx

    async def job(stored: asyncio.Event) -> None:
        from pipeline.store.influx import InfluxWriter, deliver, transport_for

        if influx.insecure:
            log.warning("insecure: the certificate of %s is not verified", influx.url)
        # Its own connection: the session's spool is busy in the store task.
        spool = Spool.in_dir(settings.data_dir, max_bytes=settings.spool_max_bytes)
        writer = InfluxWriter(spool, transport_for(influx), batch_size=influx.batch_size)
        try:
            await deliver(writer, stored, on_status=on_status)
        finally:
            writer.close()
            spool.close()

    return job


def deliver_now(settings: Settings, timeout_s: float = 10.0) -> None:
    """Send what is pending now, for rows stored after a session's own delivery ended
    (an assessment's verdict); what the server does not take stays in the spool for
    the next session or `mirrorwatch push`. Nothing when no server is configured."""
    if settings.influx is None:
        return
    from pipeline.store.influx import InfluxWriter, transport_for

    spool = Spool.in_dir(settings.data_dir, max_bytes=settings.spool_max_bytes)
    writer = InfluxWriter(
        spool, transport_for(settings.influx), batch_size=settings.influx.batch_size
    )
    try:
        result = writer.push(timeout_s)
    except SpoolError as e:  # the acknowledgement found no room: the rows go again later
        log.warning("delivery stopped: %s; `mirrorwatch push` sends the rest", e)
        return
    finally:
        writer.close()
        spool.close()
    if result.pending:
        log.warning("%d rows still pending delivery: `mirrorwatch push` sends them", result.pending)


def status(args: argparse.Namespace) -> int:
    """Spool counts and delivery state as text or one JSON object."""
    settings: Settings = args.settings
    with Spool.for_reading(settings.data_dir, max_bytes=settings.spool_max_bytes) as spool:
        counts = spool.counts()
        delivery = spool.delivery_status()
        path = spool.path
        room = spool.guard.status()
    now = time.time()
    target = None
    if settings.influx is not None:
        target = f"{settings.influx.url} bucket {settings.influx.bucket}"
    if args.json:
        print(json.dumps({**_as_json(str(path), counts, delivery, target, now), **room.as_json()}))
        return 0
    print(f"spool    {path}")
    print(
        f"stored   {counts['sessions']} sessions, {counts['events']} events, "
        f"{counts['samples']} samples"
    )
    print(f"delivery {target or 'not configured: the spool is the store'}")
    pending = ", ".join(f"{n} {s.value}" for s, n in delivery.pending.items())
    age = _age(delivery.oldest_pending, now)
    print(f"pending  {pending}" + (f"; oldest {age} old" if age else ""))
    dropped = sum(delivery.dropped.values())
    if dropped or delivery.quarantined:
        lost = ", ".join(f"{n} {s.value}" for s, n in delivery.dropped.items() if n)
        print(
            f"dropped  {lost or 'none'} (size bound, full disk); quarantined {delivery.quarantined}"
        )
    if delivery.last_delivery_at is not None:
        print(f"last ok  {_age(delivery.last_delivery_at, now)} ago")
    if _failing(delivery):
        print(f"error    {delivery.last_error} ({_age(delivery.last_error_at, now)} ago)")
    print(f"disk     {room.line(now)}")
    return 0


def _failing(d: DeliveryStatus) -> bool:
    """An error newer than the last delivery: one followed by a success is stale."""
    return d.last_error is not None and (d.last_delivery_at or 0.0) < (d.last_error_at or 0.0)


def delivery_line(d: DeliveryStatus, now: float) -> str:
    """The live view's word on delivery: pending rows, the oldest's age, a current error."""
    if d.total_pending == 0:
        text = "influx: up to date"
    else:
        age = _age(d.oldest_pending, now)
        text = f"influx: {d.total_pending} pending" + (f", oldest {age}" if age else "")
    return text + (f" ({d.last_error})" if _failing(d) else "")


def _as_json(
    path: str, counts: dict[str, int], d: DeliveryStatus, target: str | None, now: float
) -> dict[str, Any]:
    return {
        "spool": path,
        "counts": counts,
        "target": target,
        "pending": {s.value: n for s, n in d.pending.items()},
        "oldest_pending_age_s": None if d.oldest_pending is None else now - d.oldest_pending,
        "dropped": {s.value: n for s, n in d.dropped.items()},
        "quarantined": d.quarantined,
        "last_error": d.last_error if _failing(d) else None,
        "last_error_at": d.last_error_at if _failing(d) else None,
        "last_delivery_at": d.last_delivery_at,
    }


def _age(then: float | None, now: float) -> str:
    if then is None:
        return ""
    s = max(0.0, now - then)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
