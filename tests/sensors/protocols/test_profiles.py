"""The profile table: how each make is recognised, and that its decoder is the facade."""

from __future__ import annotations

import numpy as np
import pytest

from sensors.ble_drivers import DRIVERS
from sensors.protocols.base import Reason
from sensors.protocols.mirrorwatch import Packet, encode_packet
from sensors.protocols.profiles import (
    PROFILES,
    Kind,
    from_advertisement,
    from_services,
    profile,
)

# literal UUIDs, as the vendors and firmware_notes/gatt.md spell them
MIRRORWATCH = "4D570001-2F1C-4B8E-9A6D-6D6972726F72"  # upper case: advertisements vary
POLAR_PMD = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
METAWEAR = "326a9000-85cb-9195-d9dd-464cfbbae75a"
HEART_RATE = "0000180d-0000-1000-8000-00805f9b34fb"


@pytest.mark.parametrize(
    ("uuids", "name", "companies", "kind"),
    [
        ([MIRRORWATCH], "MirrorWatch L", [], Kind.MIRRORWATCH),
        ([METAWEAR], "MetaWear", [], Kind.METAWEAR),
        ([POLAR_PMD], "", [], Kind.POLAR),
        ([HEART_RATE], "Polar Sense B5A3F029", [], Kind.POLAR),  # Verity Sense: HR only
        ([HEART_RATE], "Polar OH1 1234", [0x006B], Kind.POLAR),  # by Polar's company id
        ([HEART_RATE], "Polar OH1 1234", [], None),
        ([HEART_RATE], "Other 1234", [0x006B], None),
        ([], "", [], None),
    ],
)
def test_an_advertisement_names_its_profile(
    uuids: list[str], name: str, companies: list[int], kind: Kind | None
) -> None:
    found = from_advertisement(uuids, name, companies)
    assert (found.kind if found is not None else None) == kind


def test_a_gatt_table_names_its_profile() -> None:
    for p in PROFILES:
        assert from_services({HEART_RATE, p.service_uuid}.__contains__) is p
    assert from_services(lambda uuid: uuid == HEART_RATE) is None


def test_every_kind_has_one_profile_and_one_driver() -> None:
    assert sorted(p.kind for p in PROFILES) == sorted(Kind)
    assert set(DRIVERS) == set(Kind)
    assert all(profile(k).kind is k for k in Kind)
    assert [p.kind for p in PROFILES if p.needs_bond] == [Kind.MIRRORWATCH]


@pytest.mark.parametrize("kind", list(Kind))
def test_every_decoder_counts_a_malformed_packet_and_returns_nothing(kind: Kind) -> None:
    decoder = profile(kind).decoder()
    assert decoder.decode(b"\x01") == []
    assert sum(decoder.skipped().values()) == 1
    assert set(decoder.skipped()) <= set(Reason)


def test_the_mirrorwatch_profile_decodes_a_packet_on_the_sensor_clock() -> None:
    raw = np.zeros((4, 3), dtype=np.int16)
    data = encode_packet(Packet(seq=7, tick=1000, raw_acc=raw, tick_hz=32768, odr_hz=100))
    frames = profile(Kind.MIRRORWATCH).decoder().decode(data)
    assert len(frames) == 1
    assert (frames[0].tick, frames[0].seq, len(frames[0])) == (1000, 7, 4)
    np.testing.assert_allclose(frames[0].offsets, np.arange(4) / 100.0)
