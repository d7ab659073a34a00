"""What the BLE layer needs to know per sensor kind: UUIDs, commands, decoder, recognition."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sensor_gateway.protocols import movella_dot, winkwatch, witmotion
from sensor_gateway.protocols.base import StreamDecoder
from sensor_gateway.protocols.errors import UnsupportedRateError
from sensor_gateway.samples import SensorKind


@dataclass(frozen=True)
class ProtocolSpec:
    """One sensor family's GATT layout and commands.

    `rates_hz` the output rates the gateway can set (empty: fixed in the device, e.g. DOT).
    `start_commands(rate_hz)` the writes, in order, to the control characteristic that make
    the sensor stream at `rate_hz`, `command_spacing_s` apart; `stop_commands` the writes
    that stop it.
    """

    kind: SensorKind
    label: str
    service_uuid: str
    notify_char_uuid: str
    control_char_uuid: str
    write_with_response: bool
    rates_hz: tuple[int, ...]
    default_rate_hz: int | None
    name_prefixes: tuple[str, ...]
    start_commands: Callable[[int | None], list[bytes]]
    stop_commands: tuple[bytes, ...]
    decoder_class: type[StreamDecoder]
    command_spacing_s: float = 0.0
    # Rate set on a characteristic of its own before the start commands (Movella DOT).
    rate_char_uuid: str | None = None
    rate_commands: Callable[[int | None], list[bytes]] = lambda _rate_hz: []

    def new_decoder(self, address: str, rate_hz: int | None = None) -> StreamDecoder:
        """A fresh streaming decoder for one connection."""
        return self.decoder_class(address, nominal_rate_hz=rate_hz)

    def check_rate(self, rate_hz: int | None) -> int | None:
        """The rate to request (default when None); raise UnsupportedRateError if impossible."""
        if not self.rates_hz:
            return None
        rate = self.default_rate_hz if rate_hz is None else rate_hz
        if rate is None:
            return None  # keep the rate stored in the sensor
        if rate not in self.rates_hz:
            self.rate_commands(rate)  # raises the family's own explanation, if it has one
            raise UnsupportedRateError(f"{self.label} streams at {self.rates_hz} Hz, not {rate} Hz")
        return rate


def _winkwatch_start(rate_hz: int | None) -> list[bytes]:
    return [winkwatch.start_command(rate_hz or 200)]


def _witmotion_start(rate_hz: int | None) -> list[bytes]:
    return witmotion.start_commands(rate_hz or 200)


def _dot_start(rate_hz: int | None) -> list[bytes]:
    return [movella_dot.start_command()]


def _dot_rate(rate_hz: int | None) -> list[bytes]:
    return [] if rate_hz is None else [movella_dot.output_rate_command(rate_hz)]


PROTOCOLS: dict[SensorKind, ProtocolSpec] = {
    SensorKind.WINKWATCH: ProtocolSpec(
        kind=SensorKind.WINKWATCH,
        label="WinkWatch sensor",
        service_uuid=winkwatch.SERVICE_UUID,
        notify_char_uuid=winkwatch.DATA_CHAR_UUID,
        control_char_uuid=winkwatch.CONTROL_CHAR_UUID,
        write_with_response=True,
        rates_hz=winkwatch.SUPPORTED_RATES_HZ,
        default_rate_hz=200,
        name_prefixes=(winkwatch.NAME_PREFIX,),
        start_commands=_winkwatch_start,
        stop_commands=(winkwatch.stop_command(),),
        decoder_class=winkwatch.WinkWatchDecoder,
    ),
    SensorKind.WITMOTION: ProtocolSpec(
        kind=SensorKind.WITMOTION,
        label="WitMotion BLE 5.0 IMU",
        service_uuid=witmotion.SERVICE_UUID,
        notify_char_uuid=witmotion.NOTIFY_CHAR_UUID,
        control_char_uuid=witmotion.WRITE_CHAR_UUID,
        write_with_response=False,
        rates_hz=witmotion.SUPPORTED_RATES_HZ,
        default_rate_hz=200,
        name_prefixes=witmotion.NAME_PREFIXES,
        start_commands=_witmotion_start,
        stop_commands=(),
        decoder_class=witmotion.WitMotionDecoder,
        command_spacing_s=witmotion.COMMAND_SPACING_S,
    ),
    SensorKind.MOVELLA_DOT: ProtocolSpec(
        kind=SensorKind.MOVELLA_DOT,
        label="Movella DOT",
        service_uuid=movella_dot.MEASUREMENT_SERVICE_UUID,
        notify_char_uuid=movella_dot.MEDIUM_PAYLOAD_CHAR_UUID,
        control_char_uuid=movella_dot.CONTROL_CHAR_UUID,
        write_with_response=True,
        rates_hz=movella_dot.LIVE_RATES_HZ,
        default_rate_hz=None,  # unless configured, the rate stored in the sensor
        name_prefixes=movella_dot.NAME_PREFIXES,
        start_commands=_dot_start,
        stop_commands=(movella_dot.stop_command(),),
        decoder_class=movella_dot.MovellaDotDecoder,
        rate_char_uuid=movella_dot.DEVICE_CONTROL_CHAR_UUID,
        rate_commands=_dot_rate,
    ),
}

BLE_KINDS: tuple[SensorKind, ...] = tuple(PROTOCOLS)


def get_protocol(kind: SensorKind | str) -> ProtocolSpec:
    """The ProtocolSpec of a BLE sensor kind; ValueError names the kinds that exist."""
    try:
        return PROTOCOLS[SensorKind(kind)]
    except (KeyError, ValueError):
        names = ", ".join(k.value for k in BLE_KINDS)
        raise ValueError(f"{kind!r} is not a BLE sensor kind; use one of: {names}") from None


def recognise_kind(
    name: str | None, service_uuids: Iterable[str], manufacturer_ids: Iterable[int] = ()
) -> SensorKind | None:
    """Which supported sensor this is: from advertised service UUIDs first, then the company
    identifiers of the advertised manufacturer data (a Movella DOT's, whatever its
    user-changeable name), then the name."""
    uuids = {u.lower() for u in service_uuids}
    for spec in PROTOCOLS.values():
        if spec.service_uuid in uuids:
            return spec.kind
    if any(movella_dot.UUID_PATTERN.match(u) for u in uuids):
        return SensorKind.MOVELLA_DOT
    if movella_dot.COMPANY_ID in set(manufacturer_ids):
        return SensorKind.MOVELLA_DOT
    if name:
        for spec in PROTOCOLS.values():
            if any(name.startswith(prefix) for prefix in spec.name_prefixes):
                return spec.kind
    return None
