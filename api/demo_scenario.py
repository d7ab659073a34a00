"""The `winkwatch demo` scenario: the API and live gateway with two simulated athletes.

- "Alex (clean)" squats to depth with the pelvis following the thigh: no butt wink.
- "Sam (winks under load)" squats goblet-style without winking, then back squats with a
  barbell where the pelvis tucks under by ~10-13 deg from a thigh angle of ~85 deg.

Each athlete performs their sets back to back, cycling through a fixed programme forever
(each set a new random draw of the simulator: depth, tempo and sensor errors vary). Sets
are started and stopped on the gateway as the simulated athlete begins and ends them, so
the dashboard sees exactly what it would see with real sensors and a coach's phone.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from api.depth_guard import athlete_depth_guard
from api.runtime import Server, add_simulation, build_runtime, close_unstarted
from api.settings import Settings
from api.vocab import SetVariant
from fusion.simulator import SquatSetSpec

if TYPE_CHECKING:
    from sensor_gateway.events import SetInfo
    from sensor_gateway.sources.simulated import PlayedSet

# Thigh angle (deg) at which Sam's pelvis starts to tuck under when loaded: the demo's answer.
SAM_ONSET_DEPTH_DEG = 85.0


@dataclass(frozen=True)
class DemoSet:
    """One set of a demo athlete's programme: what is performed and what the simulator plays."""

    variant: SetVariant
    load_kg: float
    spec: SquatSetSpec


@dataclass(frozen=True)
class DemoAthlete:
    name: str
    notes: str
    programme: tuple[DemoSet, ...]
    seed: int


def _spec(
    *, reps: int, depth_deg: float, wink_deg: float, wink_onset_deg: float | None = None
) -> SquatSetSpec:
    # Rest standing before and after each set: sets follow each other with a pause.
    return SquatSetSpec(
        reps=reps,
        depth_deg=depth_deg,
        depth_jitter_deg=3.0,
        wink_deg=wink_deg,
        wink_jitter_deg=0.5 if wink_deg else 0.0,
        wink_onset_deg=wink_onset_deg,
        wink_onset_jitter_deg=2.0 if wink_deg else 0.0,
        standing_s=3.0,
        standing_end_s=4.0,
    )


DEMO_ATHLETES: tuple[DemoAthlete, ...] = (
    DemoAthlete(
        name="Alex (clean)",
        notes="demo: no butt wink at any load",
        seed=11,
        programme=(
            DemoSet(SetVariant.BACK_SQUAT, 80.0, _spec(reps=5, depth_deg=100.0, wink_deg=0.0)),
            DemoSet(SetVariant.BACK_SQUAT, 100.0, _spec(reps=4, depth_deg=98.0, wink_deg=0.0)),
        ),
    ),
    DemoAthlete(
        name="Sam (winks under load)",
        notes="demo: tucks under near the bottom of loaded back squats",
        seed=12,
        programme=(
            DemoSet(
                SetVariant.BACK_SQUAT,
                90.0,
                _spec(reps=5, depth_deg=110.0, wink_deg=12.0, wink_onset_deg=SAM_ONSET_DEPTH_DEG),
            ),
            DemoSet(SetVariant.GOBLET_SQUAT, 24.0, _spec(reps=5, depth_deg=108.0, wink_deg=0.0)),
            DemoSet(
                SetVariant.BACK_SQUAT,
                110.0,
                _spec(
                    reps=4, depth_deg=108.0, wink_deg=13.0, wink_onset_deg=SAM_ONSET_DEPTH_DEG - 3.0
                ),
            ),
        ),
    ),
)


class _Forever:
    """The programme's specs cycled without end (re-iterable, so the source may restart)."""

    def __init__(self, programme: tuple[DemoSet, ...]) -> None:
        self.programme = programme

    def __iter__(self) -> Iterator[SquatSetSpec]:
        return (demo_set.spec for demo_set in itertools.cycle(self.programme))


def default_data_dir() -> Path:
    """A fresh temporary directory for the demo's database and sensor assignments."""
    return Path(tempfile.mkdtemp(prefix="winkwatch-demo-"))


def demo_settings(data_dir: Path, host: str, port: int) -> Settings:
    """Settings of the demo server: embedded SQLite in `data_dir`, nothing else from outside."""
    return Settings(
        database_url=f"sqlite:///{data_dir / 'winkwatch-demo.db'}",
        gateway_id="demo",
        host=host,
        port=port,
    )


def build_demo_server(
    settings: Settings, data_dir: Path | None = None, *, realtime: bool = True
) -> Server:
    """Database, sink, gateway with the two simulated demo athletes, and the app. Everything
    the demo keeps is in the database of `settings` (in `data_dir`, see `demo_settings`);
    no gateway.json is read or written."""
    from sensor_gateway.sources.simulated import SimulatedAthlete

    server = build_runtime(settings)
    programmes: dict[str, tuple[DemoSet, ...]] = {}

    def make_athlete(index: int, athlete_id: str) -> SimulatedAthlete:
        demo = DEMO_ATHLETES[index]
        programmes[athlete_id] = demo.programme
        return SimulatedAthlete(
            athlete_id=athlete_id,
            sets=_Forever(demo.programme),  # type: ignore[arg-type]
            seed=demo.seed,
        )

    def start(athlete: SimulatedAthlete, played: PlayedSet) -> SetInfo:
        programme = programmes[athlete.athlete_id]
        demo_set = programme[played.index % len(programme)]
        return server.gateway.start_set(
            athlete.athlete_id,
            demo_set.variant,
            demo_set.load_kg,
            "demo",
            depth_guard=athlete_depth_guard(server.database, int(athlete.athlete_id)),
        )

    try:
        add_simulation(
            server,
            [(demo.name, demo.notes) for demo in DEMO_ATHLETES],
            realtime=realtime,
            make_athlete=make_athlete,
            start=start,
            label="demo",
        )
    except BaseException:  # e.g. the athletes simulated by another process: release the leases
        close_unstarted(server)
        raise
    return server
