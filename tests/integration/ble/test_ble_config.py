"""The [ble] settings: addresses, types and ranges checked with the key named."""

from __future__ import annotations

import pytest

from sensors.ble_config import BleConfig


def test_defaults_and_round_trip() -> None:
    config = BleConfig.from_mapping({"left": "c4:4f:33:6a:00:01", "stall_timeout": 5})
    assert config.left == "C4:4F:33:6A:00:01"  # canonical upper case
    assert config.right is None
    assert config.stall_timeout == 5.0
    assert isinstance(config.stall_timeout, float)
    assert config.to_mapping() == {"left": "C4:4F:33:6A:00:01", "stall_timeout": 5.0}
    assert BleConfig.from_mapping(config.to_mapping()) == config


def test_corebluetooth_uuid_is_an_address() -> None:
    uuid = "8f2d6a4e-1c3b-4a5d-9e7f-0a1b2c3d4e5f"
    assert BleConfig(left=uuid).left == uuid.upper()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"left": "C4:4F:33:6A:00"}, "ble.left: not a Bluetooth address"),
        ({"left": 12}, "ble.left: expected a non-empty string, got 12"),
        ({"odr_hz": 150}, "ble.odr_hz: expected one of 50, 100, 200, 400, got 150"),
        ({"odr_hz": 200.0}, "ble.odr_hz: expected one of 50, 100, 200, 400, got 200.0"),
        ({"stall_timeout": 0}, "ble.stall_timeout: must be > 0, got 0"),
        ({"stall_timeout": True}, "ble.stall_timeout: expected a number, got True"),
        ({"retries": 3}, "ble.retries: unknown key"),
        ({"left": "C4:4F:33:6A:00:01", "right": "c4:4f:33:6a:00:01"}, "must be different"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BleConfig.from_mapping(table)
