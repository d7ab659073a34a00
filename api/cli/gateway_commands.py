"""`winkwatch` commands of the gateway group: `gateway` (runtime) and `scan` (radio)."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    register_scan(app)


# -- winkwatch scan (radio side) -------------------------------------------------------------


def register_scan(app: typer.Typer) -> None:
    app.command("scan")(scan_command)


def scan_command(
    timeout_s: float = typer.Option(5.0, "--timeout-s", min=0.5, help="How long to listen, seconds."),
    battery: bool = typer.Option(
        False, "--battery", help="Connect briefly to sensors that do not advertise their battery "
        "level, one at a time, to read it."),
    show_all: bool = typer.Option(False, "--all", help="Also list devices that are not supported sensors."),
    adapter: Optional[str] = typer.Option(
        None, "--adapter", help="Bluetooth adapter, e.g. hci1 (default: the first powered one)."),
) -> None:
    """List the BLE sensors in range: name, address, kind, signal strength and battery."""
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from sensor_gateway.ble import AdapterUnavailableError, scan_sensors

    try:
        results = asyncio.run(scan_sensors(timeout_s, read_battery=battery,
                                           include_unknown=show_all, adapter=adapter))
    except AdapterUnavailableError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    console = Console()
    if not results:
        console.print(f"No sensors heard in {timeout_s:g} s. Are they switched on, charged, and not "
                      "connected to a phone app? Try a longer --timeout-s.")
        return
    table = Table(title=f"Sensors in range ({len(results)})")
    for column, justify in (("name", "left"), ("address", "left"), ("kind", "left"),
                            ("RSSI dBm", "right"), ("battery %", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        if result.battery_pct is not None:
            battery_text = f"{result.battery_pct} ({'adv' if result.battery_source == 'advertisement' else 'read'})"
        else:
            battery_text = "-" if battery or result.kind is None else "? (--battery)"
        table.add_row(result.name or "?", result.address,
                      result.kind.value if result.kind is not None else "unsupported",
                      str(result.rssi_dbm) if result.rssi_dbm is not None else "?", battery_text)
    console.print(table)
    console.print("Assign a sensor with: winkwatch gateway --assign ADDRESS,KIND,ATHLETE,PLACEMENT")
