"""Kept analyses of stored sets: a set's angles through time (`SetAngleSeries`), valid while
the set holds the same number of raw samples. Arrays are kept as a compressed numpy .npz
(times float64, angles float32: 0.00001 deg is far below what the sensors resolve)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.storage.models import RawChunk, SetAngleSeries

if TYPE_CHECKING:
    from fusion.pipeline import AnalysisResult

_ARRAYS = ("t_s", "thigh_deg", "pelvic_tilt_deg", "hip_flexion_deg", "in_gap")


@dataclass(frozen=True)
class AngleSeries:
    """Angles (deg) on a uniform grid `t_s` (s since the set started), and the analysis'
    data-quality findings in plain words."""

    t_s: np.ndarray
    thigh_deg: np.ndarray
    pelvic_tilt_deg: np.ndarray
    hip_flexion_deg: np.ndarray
    in_gap: np.ndarray  # bool: a sensor had no samples here (values interpolated)
    findings: tuple[str, ...] = ()

    @classmethod
    def of(cls, result: AnalysisResult) -> AngleSeries:
        return cls(
            t_s=result.t_s,
            thigh_deg=result.thigh_deg,
            pelvic_tilt_deg=result.pelvic_tilt_deg,
            hip_flexion_deg=result.hip_flexion_deg,
            in_gap=result.in_gap,
            findings=tuple(finding.message for finding in result.findings),
        )


def raw_sample_count(db: Session, set_id: int) -> int:
    total = db.scalar(select(func.sum(RawChunk.n_samples)).where(RawChunk.set_id == set_id))
    return int(total or 0)


def keep_angle_series(db: Session, set_id: int, raw_samples: int, series: AngleSeries) -> None:
    """Store (or replace) the set's kept angles, analysed from `raw_samples` samples; commits.
    A concurrent request that kept the same set first wins (its result is the same)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        t_s=series.t_s.astype(np.float64),
        thigh_deg=series.thigh_deg.astype(np.float32),
        pelvic_tilt_deg=series.pelvic_tilt_deg.astype(np.float32),
        hip_flexion_deg=series.hip_flexion_deg.astype(np.float32),
        in_gap=series.in_gap.astype(bool),
    )
    db.merge(
        SetAngleSeries(
            set_id=set_id,
            raw_samples=raw_samples,
            payload=buffer.getvalue(),
            findings_json=json.dumps(list(series.findings)),
        )
    )
    try:
        db.commit()
    except IntegrityError:
        db.rollback()


def kept_angle_series(db: Session, set_id: int, raw_samples: int) -> AngleSeries | None:
    """The set's kept angles if they were analysed from the `raw_samples` it holds now."""
    row = db.get(SetAngleSeries, set_id)
    if row is None or row.raw_samples != raw_samples:
        return None
    return _decode(row)


def _decode(row: SetAngleSeries) -> AngleSeries:
    with np.load(io.BytesIO(row.payload)) as arrays:
        values = {name: arrays[name] for name in _ARRAYS}
    return AngleSeries(
        t_s=values["t_s"],
        thigh_deg=values["thigh_deg"].astype(np.float64),
        pelvic_tilt_deg=values["pelvic_tilt_deg"].astype(np.float64),
        hip_flexion_deg=values["hip_flexion_deg"].astype(np.float64),
        in_gap=values["in_gap"],
        findings=tuple(json.loads(row.findings_json)),
    )
