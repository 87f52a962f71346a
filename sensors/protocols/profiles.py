"""Every sensor profile the gateway speaks, in one table: a new make plugs in here.

A `Profile` says how a sensor of that make is recognised (its advertisement, the GATT
service of a connected one), whether it wants a bond, and which decoder reads its
notifications. Every decoder fulfils the one facade, `Decoder` (sensors/protocols/base.py):
notification bytes -> `Frame`s on the sensor's own clock, malformed packets counted under
a `Reason`, never raised. The BLE side (sensors/ble*.py) sees a make only through this
table and that facade; the bleak part of a profile (what to write to start its stream,
which settings to pick) is its driver, registered under the same `Kind` in
sensors/ble_drivers.py. Pure: no bleak import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from sensors.protocols import metawear as mw
from sensors.protocols import mirrorwatch_control as mwc
from sensors.protocols import polar_pmd as pmd
from sensors.protocols.base import Decoder
from sensors.protocols.mirrorwatch import MirrorWatchDecoder

__all__ = ["PROFILES", "Kind", "Profile", "from_advertisement", "from_services", "profile"]

POLAR_COMPANY_ID = 0x006B  # Bluetooth SIG company identifier of Polar Electro Oy


class Kind(StrEnum):
    """The protocol a sensor speaks, as `scan` and the link status show it."""

    MIRRORWATCH = "mirrorwatch-v1"
    POLAR = "polar-pmd"
    METAWEAR = "metawear"


@dataclass(frozen=True, slots=True)
class Profile:
    """One make of sensor.

    `service_uuid` the primary service that identifies it, advertised or in the GATT
    table; `names` advertised name prefixes that identify it without that service;
    `company` (company id, name prefix): manufacturer data of that company with a name of
    that prefix identifies it too; `needs_bond` its data wants an encrypted link (bonded
    by `pair`); `decoder` a decoder with the profile's default settings (drivers build
    the one for the settings a sensor answered).
    """

    kind: Kind
    service_uuid: str
    decoder: Callable[[], Decoder]
    names: tuple[str, ...] = ()
    company: tuple[int, str] | None = None
    needs_bond: bool = False

    def advertised(self, service_uuids: set[str], name: str, company_ids: set[int]) -> bool:
        """Whether an advertisement (lower-case UUIDs, local name, company ids) is this make."""
        if self.service_uuid in service_uuids or any(name.startswith(n) for n in self.names):
            return True
        if self.company is None:
            return False
        company_id, prefix = self.company
        return company_id in company_ids and name.startswith(prefix)


# Checked in this order. Polar sensors advertise Heart Rate, not PMD, so they are told by
# the name Verity Sense advertises ("Polar Sense ...") or by Polar's company id.
PROFILES: tuple[Profile, ...] = (
    Profile(Kind.MIRRORWATCH, mwc.SERVICE_UUID, MirrorWatchDecoder, needs_bond=True),
    Profile(Kind.METAWEAR, mw.SERVICE_UUID, lambda: mw.MetaWearDecoder(mw.MetaWearSetup())),
    Profile(
        Kind.POLAR,
        pmd.SERVICE_UUID,
        pmd.PolarPmdDecoder,
        names=("Polar Sense",),
        company=(POLAR_COMPANY_ID, "Polar "),
    ),
)
_BY_KIND = {p.kind: p for p in PROFILES}


def profile(kind: Kind) -> Profile:
    """The profile of `kind`."""
    return _BY_KIND[kind]


def from_advertisement(
    service_uuids: Iterable[str], name: str, company_ids: Iterable[int]
) -> Profile | None:
    """The profile an advertisement announces, or None for sensors we cannot use."""
    uuids = {u.lower() for u in service_uuids}
    companies = set(company_ids)
    return next((p for p in PROFILES if p.advertised(uuids, name, companies)), None)


def from_services(has_service: Callable[[str], bool]) -> Profile | None:
    """The profile whose service a connected sensor's GATT table has (`has_service(uuid)`)."""
    return next((p for p in PROFILES if has_service(p.service_uuid)), None)
