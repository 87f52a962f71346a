"""What the writer makes of each server answer, and its backoff (pure parts of influx.py)."""

from __future__ import annotations

import random

import pytest

from pipeline.store.influx import (
    MAX_RETRY_AFTER_S,
    Backoff,
    Failure,
    classify,
    parse_retry_after,
    unreachable,
)

URL = "https://db.example:8086"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, '{"code":"invalid","message":"unable to parse line 3"}', Failure.REJECTED),
        (422, '{"code":"unprocessable entity","message":"field type conflict"}', Failure.REJECTED),
        (401, '{"code":"unauthorized","message":"unauthorized access"}', Failure.AUTH),
        (403, "", Failure.AUTH),
        (404, '{"code":"not found","message":"bucket \\"mw\\" not found"}', Failure.CONFIG),
        (413, "request too large", Failure.TOO_LARGE),
        (429, "", Failure.THROTTLED),
        (500, '{"error":"engine: timeout"}', Failure.UNAVAILABLE),
        (502, "<html>Bad Gateway</html>", Failure.UNAVAILABLE),
        (503, "", Failure.UNAVAILABLE),
    ],
)
def test_answers_are_classified(status: int, body: str, kind: Failure) -> None:
    failure = classify(status, body, None, URL)
    assert failure.kind is kind
    assert failure.needs_person == (kind in (Failure.AUTH, Failure.CONFIG))


def test_the_server_message_is_kept() -> None:
    assert classify(400, '{"code":"invalid","message":"bad timestamp"}', None, URL).message == (
        "400: bad timestamp"
    )
    assert classify(400, '{"error":"partial write: dropped=1"}', None, URL).message == (
        "400: partial write: dropped=1"
    )
    assert "refused the token (401 unauthorized access)" in (
        classify(401, '{"message":"unauthorized access"}', None, URL).message
    )


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert classify(429, "", "7", URL).retry_after == 7.0
    assert classify(503, "", "2", URL).kind is Failure.THROTTLED
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_grows_with_jitter_to_a_cap_and_resets() -> None:
    b = Backoff(random.Random(3), base_s=0.5, cap_s=8.0)
    delays = [b.next() for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    for d, c in zip(delays, ceilings, strict=True):
        assert c / 2 <= d <= c
    assert len(set(delays[4:])) == 4  # jittered, not in lockstep
    b.reset()
    assert b.next() <= 0.5


def test_retry_after_wins_over_a_shorter_backoff_but_is_capped() -> None:
    b = Backoff(random.Random(4), base_s=0.5, cap_s=60.0)
    assert b.next(retry_after=30.0) == 30.0
    assert b.next(retry_after=86_400.0) == MAX_RETRY_AFTER_S


def test_no_answer_is_retried_but_an_untrusted_certificate_needs_a_person() -> None:
    # urllib3's SSLError as influxdb-client passes it on (ApiException status 0)
    tls = (
        "SSLError\nHTTPSConnectionPool(host='127.0.0.1', port=8086): Max retries exceeded "
        "with url: /api/v2/write (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer "
        "certificate (_ssl.c:1006)')))"
    )
    failure = unreachable(URL, tls)
    assert failure.kind is Failure.CONFIG
    assert failure.needs_person
    assert "certificate is not trusted (unable to get local issuer certificate)" in (
        failure.message
    )
    assert "\n" not in failure.message
    refused = unreachable(URL, "<urlopen error [Errno 111] Connection refused>")
    assert refused.kind is Failure.UNAVAILABLE
    assert refused.message == f"cannot reach {URL}: <urlopen error [Errno 111] Connection refused>"
