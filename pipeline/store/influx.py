"""Delivery of the spool to InfluxDB: drain in order, advance only on acknowledgement.

The spool, not the client's memory, is the buffer: influxdb-client is used in
synchronous mode (its batching mode loses buffered points on exit and gives up
after its retries), one batch per request, gzip on. A batch leaves the pending
set only after the server answered 2xx. What a failure means decides what we do:

- connection refused, timeout, 5xx: back off (exponential, jittered, capped) and retry;
- 429 or 503 with Retry-After: wait at least that long;
- 401/403 (token), 404 (org, bucket or API missing): a configuration problem,
  one clear error, no hot retry; the spool keeps growing until it is fixed;
- 400/422 (a point the server refuses) and 413: split the batch until the bad
  row is alone, quarantine it with the server's message, deliver the rest.

Two transports: "v2" through influxdb-client (InfluxDB 2.x/3.x and compatible
servers), "v1" a plain POST to `/write` for InfluxDB 1.x, whose 1.6/1.7 releases
lack the v2 endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import gzip
import json
import logging
import math
import random
import re
import secrets
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.rest import ApiException
from influxdb_client.service.write_service import WriteService

from pipeline.settings import InfluxSettings
from pipeline.store import outbox
from pipeline.store.outbox import DeliveryStatus, Outgoing, Stream
from pipeline.store.spool import Spool, SpoolFull

log = logging.getLogger(__name__)

MAX_QUARANTINE_STREAK = 8
"""Rows refused one by one, none accepted, before we blame the server instead of the rows."""

MAX_RETRY_AFTER_S = 300.0
"""Longest server-requested pause we honour: a bad header must not park a gateway for days."""

_Row = TypeVar("_Row")  # a pending point, or a quarantined one with its quarantine id


class Failure(StrEnum):
    UNAVAILABLE = "unavailable"  # retry with backoff
    THROTTLED = "throttled"  # retry after the server's Retry-After
    AUTH = "auth"  # token refused: needs a person
    CONFIG = "config"  # org, bucket or API not found: needs a person
    REJECTED = "rejected"  # the batch holds a point the server refuses
    TOO_LARGE = "too_large"  # the request body is over the server's limit


class WriteFailed(Exception):
    """A write the server did not acknowledge, with what to do about it."""

    def __init__(self, kind: Failure, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    @property
    def needs_person(self) -> bool:
        return self.kind in (Failure.AUTH, Failure.CONFIG)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify(status: int, body: str, retry_after: str | None, url: str) -> WriteFailed:
    """What an HTTP error answer to a write means (`body` is the server's message)."""
    message = _server_message(body)
    if status in (400, 422):
        return WriteFailed(Failure.REJECTED, f"{status}: {message}")
    if status in (401, 403):
        return WriteFailed(
            Failure.AUTH,
            f"{url} refused the token ({status} {message}): check MIRRORWATCH_INFLUX_TOKEN or "
            "MIRRORWATCH_INFLUX_TOKEN_FILE; data stays in the spool until then",
        )
    if status == 404:
        return WriteFailed(
            Failure.CONFIG,
            f"{url} answered 404 ({message}): check the org and bucket; an InfluxDB 1.x "
            'server needs api = "v1" in [influx]',
        )
    if status == 413:
        return WriteFailed(Failure.TOO_LARGE, f"413: {message}")
    wait = parse_retry_after(retry_after)
    if status == 429 or (status == 503 and wait is not None):
        return WriteFailed(Failure.THROTTLED, f"{url} is throttling ({status})", wait)
    return WriteFailed(Failure.UNAVAILABLE, f"{url} answered {status}: {message}", wait)


def _server_message(body: str) -> str:
    """The human part of an error body: InfluxDB 2 {"message"}, 1.x {"error"}, or text."""
    text = body.strip()
    with contextlib.suppress(ValueError, AttributeError):
        d = json.loads(text)
        text = str(d.get("message") or d.get("error") or text)
    return text[:500] or "no message"


def unreachable(url: str, detail: str) -> WriteFailed:
    """A write that got no HTTP answer; `detail` is the connection or TLS error's text.

    A certificate that does not verify will not fix itself: that needs a person,
    with a message saying so; anything else (refused, reset, timeout) is retried.
    """
    text = " ".join(detail.split())
    if found := re.search(r"certificate verify failed:? ?([^'\"()]*)", text, re.IGNORECASE):
        why = found.group(1).strip() or "certificate verify failed"
        return WriteFailed(
            Failure.CONFIG,
            f"{url}: the server's certificate is not trusted ({why}): put its CA in "
            "SSL_CERT_FILE, or skip the check with --insecure (insecure = true in "
            "[influx]); data stays in the spool until then",
        )
    return WriteFailed(Failure.UNAVAILABLE, f"cannot reach {url}: {text[:500]}")


class Transport(Protocol):
    def write(self, lines: list[str]) -> None:
        """Send points; return only once the server acknowledged them, else raise WriteFailed."""

    def close(self) -> None: ...


class ClientTransport:
    """InfluxDB 2.x/3.x `/api/v2/write` through influxdb-client, synchronous, gzip."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        self._client = InfluxDBClient(
            url=settings.url,
            token=settings.token,
            org=settings.org,
            timeout=int(settings.timeout_s * 1000),
            # We compress ourselves: the client's gzip runs at level 9, which costs
            # more CPU than everything else in a drain; level 1 is ~5x faster.
            enable_gzip=False,
            verify_ssl=not settings.insecure,
        )
        if settings.insecure:
            # The caller says so once (`push` on stderr, a session in its log);
            # urllib3 would add two lines with a source path for every new host.
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        # The write service is what WriteApi's synchronous mode calls; used directly
        # it takes a pre-compressed body with its Content-Encoding.
        self._service = WriteService(self._client.api_client)  # type: ignore[no-untyped-call]

    def write(self, lines: list[str]) -> None:
        s = self._settings
        try:
            self._service.post_write(  # type: ignore[no-untyped-call]
                s.org,
                s.bucket,
                gzip.compress("\n".join(lines).encode(), compresslevel=1),
                precision="ns",
                content_encoding="gzip",
                content_type="text/plain; charset=utf-8",
            )
        except ApiException as e:
            if not e.status:  # no answer: influxdb-client wraps urllib3's SSLError so
                raise unreachable(s.url, str(e.reason)) from None
            retry_after = e.headers.get("Retry-After") if e.headers else None
            raise classify(e.status, e.body or "", retry_after, s.url) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise unreachable(s.url, str(e)) from None

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


class V1Transport:
    """InfluxDB 1.x `POST /write?db=&rp=&precision=ns`, gzip; token "user:password" or empty."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        db, _, rp = settings.bucket.partition("/")
        query = {"db": db, "precision": "ns"} | ({"rp": rp} if rp else {})
        self._url = f"{settings.url}/write?{urllib.parse.urlencode(query)}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Encoding": "gzip"}
        if settings.token:
            basic = base64.b64encode(settings.token.encode()).decode()
            self._headers["Authorization"] = f"Basic {basic}"
        self._context = ssl.create_default_context()
        if settings.insecure:
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE

    def write(self, lines: list[str]) -> None:
        s = self._settings
        body = gzip.compress("\n".join(lines).encode(), compresslevel=1)
        request = urllib.request.Request(self._url, body, self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=s.timeout_s, context=self._context):
                pass
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            raise classify(e.code, text, e.headers.get("Retry-After"), s.url) from None
        except (urllib.error.URLError, OSError) as e:
            raise unreachable(s.url, str(e)) from None

    def close(self) -> None:
        """Nothing to close: one connection per request."""


def transport_for(settings: InfluxSettings) -> Transport:
    return V1Transport(settings) if settings.api == "v1" else ClientTransport(settings)


class Backoff:
    """Exponential backoff with equal jitter: a wait in [d/2, d], d = base * 2^n capped.

    The jitter keeps gateways that lost the same server from retrying in step.
    """

    def __init__(self, rng: random.Random, base_s: float = 0.5, cap_s: float = 60.0) -> None:
        self._rng = rng
        self.base_s = base_s
        self.cap_s = cap_s
        self._n = 0

    def next(self, retry_after: float | None = None) -> float:
        """The next wait in seconds, at least the server's Retry-After (itself capped)."""
        ceiling = min(self.cap_s, self.base_s * 2.0**self._n)
        self._n = min(self._n + 1, 62)
        delay = ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
        return delay

    def reset(self) -> None:
        self._n = 0


@dataclass(frozen=True, slots=True)
class PushResult:
    sent: int
    quarantined: int
    pending: int  # rows still waiting after the push
    error: WriteFailed | None  # why it stopped early, None when everything went
    requeued: int = 0  # quarantined rows sent again that the server accepted this time
    refused_again: int = 0  # quarantined rows sent again and refused again (still there)


class InfluxWriter:
    """Drains one spool into one server, batch by batch, in row-id order per stream."""

    def __init__(
        self,
        spool: Spool,
        transport: Transport,
        *,
        batch_size: int = 5000,
        rng: random.Random | None = None,
    ) -> None:
        self.spool = spool
        self.transport = transport
        self.batch_size = batch_size
        # Seeded from the OS unless a test passes its own: gateways must not share jitter.
        self.backoff = Backoff(rng or random.Random(secrets.randbits(64)))
        self._refused_streak = 0
        self.sent = 0  # rows acknowledged since this writer started
        self.quarantined = 0  # rows refused and set aside since this writer started
        self.requeued = 0  # quarantined rows sent again and accepted
        self.refused_again = 0  # quarantined rows sent again and refused again

    def step(self) -> bool:
        """Send one batch of the first stream with pending rows; False if there was none.

        Raises WriteFailed when the server did not take the batch.
        """
        self._refused_streak = 0
        for stream in Stream:
            batch = self.spool.pending(stream, self.batch_size)
            if batch:
                self._send(batch)
                return True
        return False

    def _send(self, batch: list[Outgoing]) -> None:
        def delivered(rows: list[Outgoing]) -> None:
            self.spool.acknowledge(rows)
            self.sent += len(rows)

        def refused(row: Outgoing, message: str) -> None:
            log.warning(
                "server refused %s row %d, quarantined: %s", row.stream.value, row.row_id, message
            )
            self.spool.quarantine(row, message)
            self.quarantined += 1

        given_up = f"{MAX_QUARANTINE_STREAK} rows quarantined, the rest kept"
        self._bisect(batch, lambda o: o.line, delivered, refused, given_up)

    def _resend(self, batch: list[tuple[int, Outgoing]], done: set[int]) -> None:
        """Send quarantined rows (quarantine id, point) again; `done` collects their ids.

        Accepted rows leave the quarantine; a row refused again stays with the new
        message. Raises WriteFailed when the server could not be asked.
        """

        def released(rows: list[tuple[int, Outgoing]]) -> None:
            ids = [i for i, _ in rows]
            with self.spool.transaction() as db:
                outbox.release(db, ids)
            done.update(ids)
            self.requeued += len(rows)

        def refused(row: tuple[int, Outgoing], message: str) -> None:
            with self.spool.transaction() as db:
                outbox.refused_again(db, row[0], message, time.time())
            done.add(row[0])
            self.refused_again += 1

        given_up = "the quarantined rows stay quarantined"
        self._bisect(batch, lambda r: r[1].line, released, refused, given_up)

    def _bisect(
        self,
        batch: list[_Row],
        line: Callable[[_Row], str],
        accepted: Callable[[list[_Row]], None],
        refused: Callable[[_Row, str], None],
        given_up: str,
    ) -> None:
        """Write `batch`; when the server refuses a point, split until it is alone.

        `accepted` gets each part the server acknowledged, in order; `refused` each
        row refused on its own, with the server's message. `given_up` ends the
        error when too many rows in a row were refused.
        """
        try:
            self.transport.write([line(row) for row in batch])
        except WriteFailed as e:
            if e.kind not in (Failure.REJECTED, Failure.TOO_LARGE):
                raise
            if len(batch) == 1:
                self._refused_streak += 1
                if self._refused_streak > MAX_QUARANTINE_STREAK:
                    # A server (or proxy) refusing every point would otherwise move the
                    # whole spool into quarantine: stop, and leave the rest where it is.
                    raise WriteFailed(
                        Failure.CONFIG,
                        f"the server refuses every point ({e.message}); {given_up}",
                    ) from None
                refused(batch[0], e.message)
                return
            if e.kind is Failure.TOO_LARGE:
                self.batch_size = max(1, len(batch) // 2)
            # Halves in order: rows before the bad one are acknowledged first.
            mid = len(batch) // 2
            self._bisect(batch[:mid], line, accepted, refused, given_up)
            self._bisect(batch[mid:], line, accepted, refused, given_up)
            return
        accepted(batch)
        self._refused_streak = 0

    def push(self, timeout_s: float, *, requeue_quarantined: bool = False) -> PushResult:
        """Send everything pending, retrying transient failures until `timeout_s` is spent.

        `requeue_quarantined`: first send the quarantined rows again (once each, in
        each stream's order, before its pending rows); those the server accepts now
        leave the quarantine.
        """
        deadline = time.monotonic() + timeout_s
        sent, quarantined = self.sent, self.quarantined
        requeued, refused_again = self.requeued, self.refused_again
        error = None
        again = []
        if requeue_quarantined:
            with self.spool.transaction() as db:
                again = outbox.quarantined(db)
        done: set[int] = set()
        self.backoff.reset()  # a push is a fresh start, even after a long outage
        while True:
            try:
                todo = [r for r in again if r[0] not in done]
                if todo:
                    self._refused_streak = 0
                    self._resend(todo[: self.batch_size], done)
                    busy = True
                else:
                    busy = self.step()
            except WriteFailed as e:
                self.spool.note_delivery_error(e.message)
                delay = self.backoff.next(e.retry_after)
                if e.needs_person or time.monotonic() + delay > deadline:
                    error = e
                    break
                log.info("delivery failed (%s), retrying in %.1f s", e.message, delay)
                time.sleep(delay)
                continue
            self.backoff.reset()
            if not busy:
                break
        pending = self.spool.delivery_status().total_pending
        return PushResult(
            self.sent - sent,
            self.quarantined - quarantined,
            pending,
            error,
            self.requeued - requeued,
            self.refused_again - refused_again,
        )

    def close(self) -> None:
        self.transport.close()


async def deliver(
    writer: InfluxWriter,
    finished: asyncio.Event,
    *,
    poll_s: float = 1.0,
    final_timeout_s: float = 10.0,
    on_status: Callable[[DeliveryStatus], None] | None = None,
    status_every_s: float = 5.0,
) -> None:
    """Drain continuously until `finished` is set, then push what is left for a while.

    Never raises for server trouble: a session must not end because the network
    did. A token or configuration problem is logged once per distinct message.
    `on_status` receives the spool's delivery status (pending rows, the oldest's
    age, the last error) about every `status_every_s`, for a live view.
    """
    reported: str | None = None
    told_at = full_at = -math.inf
    while not finished.is_set():
        if on_status is not None and time.monotonic() - told_at >= status_every_s:
            told_at = time.monotonic()
            on_status(await asyncio.to_thread(writer.spool.delivery_status))
        try:
            busy = await asyncio.to_thread(writer.step)
        except SpoolFull as e:
            # the acknowledgement found no room: the rows go again (at-least-once, same
            # points) once the session's writer has made room from raw samples
            if time.monotonic() - full_at >= 60.0:
                log.warning("delivered rows could not be marked: %s; retrying", e)
                full_at = time.monotonic()
            delay = poll_s
        except WriteFailed as e:
            with contextlib.suppress(SpoolFull):  # a note for `status`, not worth a session
                await asyncio.to_thread(writer.spool.note_delivery_error, e.message)
            delay = writer.backoff.cap_s if e.needs_person else writer.backoff.next(e.retry_after)
            if e.needs_person and e.message != reported:
                log.error("InfluxDB delivery stopped: %s", e.message)
                reported = e.message
            else:
                log.info("delivery failed (%s), retrying in %.1f s", e.message, delay)
        else:
            writer.backoff.reset()
            if busy:
                continue  # more may be pending: no pause between batches
            delay = poll_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), delay)
    try:
        result = await asyncio.to_thread(writer.push, final_timeout_s)
    except SpoolFull as e:
        log.warning("delivery stopped: %s; `mirrorwatch push` sends the rest", e)
        return
    if result.pending:
        log.warning("%d rows still pending delivery: `mirrorwatch push` sends them", result.pending)
