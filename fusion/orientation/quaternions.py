"""Quaternion helpers for orientation results: up vector and heading-free tilt error.

Quaternions are scalar-first (w, x, y, z) arrays of shape (N, 4), sensor-to-earth
(they rotate sensor-frame vectors into the earth frame), earth z up.
"""

from __future__ import annotations

import numpy as np

_CONJUGATE_SIGNS = np.array([1.0, -1.0, -1.0, -1.0])


FEW_ROWS = 32  # up to here plain floats are the faster form


def _as_quat_array(quat_wxyz: np.ndarray, name: str) -> np.ndarray:
    quat = np.asarray(quat_wxyz, dtype=float)
    if quat.ndim != 2 or quat.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) in w, x, y, z order, got {quat.shape}")
    return quat


def quat_multiply(left_wxyz: np.ndarray, right_wxyz: np.ndarray) -> np.ndarray:
    """Hamilton product `left * right` row by row, shapes (N, 4) -> (N, 4)."""
    w1, x1, y1, z1 = np.moveaxis(np.asarray(left_wxyz, dtype=float), -1, 0)
    w2, x2, y2, z2 = np.moveaxis(np.asarray(right_wxyz, dtype=float), -1, 0)
    return np.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        axis=-1,
    )


def quat_conjugate(quat_wxyz: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion), shape preserved."""
    conjugate: np.ndarray = np.asarray(quat_wxyz, dtype=float) * _CONJUGATE_SIGNS
    return conjugate


def up_in_sensor_frame(quat_wxyz: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The earth's up unit vector in the sensor frame, (N, 4) -> (N, 3).

    For sensor-to-earth `quat_wxyz` with rotation matrix R this is R^T e_z, the third row
    of R. It does not depend on heading, so it is what 6-axis fusion determines; at rest it
    equals the normalised accelerometer reading. Written into `out` (N, 3) when given (of
    any float dtype), a new float64 array otherwise.
    """
    quat = _as_quat_array(quat_wxyz, "quat_wxyz")
    if out is not None and out.shape != (quat.shape[0], 3):
        raise ValueError(f"out must have shape ({quat.shape[0]}, 3), got {out.shape}")
    if quat.shape[0] <= FEW_ROWS:
        # A live packet's few rows: plain floats (each numpy call costs ~1 us whatever the
        # size), the same operations as the column form below.
        few = np.array(up_rows_in_sensor_frame(quat.tolist())).reshape(-1, 3)
        if out is None:
            return few
        out[...] = few
        return out
    # Each component is a quadratic form in q, so normalising q is dividing by |q|^2.
    # Long arrays: column arithmetic, each component written straight into its column.
    w, x, y, z = np.ascontiguousarray(quat.T)
    ww, xx, yy, zz = w * w, x * x, y * y, z * z  # each square once, for |q|^2 and up_z
    scale = 2.0 / (ww + xx + yy + zz)
    up = np.empty((quat.shape[0], 3)) if out is None else out
    np.multiply(x * z - w * y, scale, out=up[:, 0], casting="same_kind")
    np.multiply(y * z + w * x, scale, out=up[:, 1], casting="same_kind")
    scale *= 0.5
    np.multiply(ww - xx - yy + zz, scale, out=up[:, 2], casting="same_kind")
    return up


def up_rows_in_sensor_frame(quat_rows: list[list[float]]) -> list[list[float]]:
    """`up_in_sensor_frame` of a few quaternion rows [w, x, y, z] as plain floats (the live
    path's packets: no numpy call), the same arithmetic as its column form."""
    out = []
    for w, x, y, z in quat_rows:
        scale = 2.0 / (w * w + x * x + y * y + z * z)
        out.append(
            [
                (x * z - w * y) * scale,
                (y * z + w * x) * scale,
                (w * w - x * x - y * y + z * z) * (scale * 0.5),
            ]
        )
    return out


def inclination_error_deg(q_est_wxyz: np.ndarray, q_true_wxyz: np.ndarray) -> np.ndarray:
    """Heading-free orientation error (deg) of each estimate, (N, 4), (N, 4) -> (N,).

    The error quaternion e = q_est * q_true^-1 is an earth-frame rotation; its heading part
    (about earth z) is unobservable without a magnetometer and is ignored, leaving the
    inclination 2 * acos(sqrt(w^2 + z^2)) of e. Rows where the truth is NaN give NaN.
    """
    q_est = _as_quat_array(q_est_wxyz, "q_est_wxyz")
    q_true = _as_quat_array(q_true_wxyz, "q_true_wxyz")
    if q_est.shape != q_true.shape:
        raise ValueError(f"q_est_wxyz {q_est.shape} and q_true_wxyz {q_true.shape} differ in shape")
    q_est = q_est / np.linalg.norm(q_est, axis=1, keepdims=True)
    q_true = q_true / np.linalg.norm(q_true, axis=1, keepdims=True)
    error = quat_multiply(q_est, quat_conjugate(q_true))
    cos_half = np.sqrt(error[:, 0] ** 2 + error[:, 3] ** 2)
    error_deg: np.ndarray = np.degrees(2.0 * np.arccos(np.clip(cos_half, 0.0, 1.0)))
    return error_deg


def inclination_rmse_deg(
    q_est_wxyz: np.ndarray, q_true_wxyz: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """Root-mean-square inclination error (deg) over `mask` (default all), NaN truth skipped."""
    error_deg = inclination_error_deg(q_est_wxyz, q_true_wxyz)
    keep = np.isfinite(error_deg)
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    if not keep.any():
        return float("nan")
    return float(np.sqrt(np.mean(error_deg[keep] ** 2)))
