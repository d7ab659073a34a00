"""Rotation helpers for the simulator: elementary rotations, their quaternions, body rates.

Every segment orientation is composed as R = Rz(heading) @ Rx(out_of_plane) @ Ry(sagittal)
(segment-to-earth, earth z up). Given each angle's value and first two time derivatives,
`body_rates` returns the exact angular velocity and angular acceleration in the segment
frame, so gyroscope and accelerometer signals need no numerical differentiation.
Quaternions are scalar-first (w, x, y, z).
"""

from __future__ import annotations

import numpy as np

from fusion.orientation.quaternions import quat_multiply
from fusion.simulator.profiles import Jet

_UNIT = np.eye(3)


def _skew(axis: np.ndarray) -> np.ndarray:
    x, y, z = axis
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


_GENERATOR = {"x": _skew(_UNIT[0]), "y": _skew(_UNIT[1]), "z": _skew(_UNIT[2])}


def elementary_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """Right-handed rotations about earth/body `axis` ("x", "y" or "z"), (N,) -> (N, 3, 3)."""
    angle = np.asarray(angle_rad, dtype=float)
    cos, sin = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(angle), np.ones_like(angle)
    if axis == "x":
        rows = [[one, zero, zero], [zero, cos, -sin], [zero, sin, cos]]
    elif axis == "y":
        rows = [[cos, zero, sin], [zero, one, zero], [-sin, zero, cos]]
    elif axis == "z":
        rows = [[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]]
    else:
        raise ValueError(f"axis must be 'x', 'y' or 'z', got {axis!r}")
    return np.moveaxis(np.array(rows), (0, 1), (-2, -1))


def elementary_quat(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """Quaternions (w, x, y, z) of `elementary_rotation`, (N,) -> (N, 4)."""
    half = 0.5 * np.asarray(angle_rad, dtype=float)
    quat = np.zeros(half.shape + (4,))
    quat[..., 0] = np.cos(half)
    quat[..., "xyz".index(axis) + 1] = np.sin(half)
    return quat


def segment_matrix(heading: Jet, out_of_plane: Jet, sagittal: Jet) -> np.ndarray:
    """Segment-to-earth matrices Rz(heading) Rx(out_of_plane) Ry(sagittal), rad -> (N, 3, 3)."""
    matrix: np.ndarray = (
        elementary_rotation("z", heading.value)
        @ elementary_rotation("x", out_of_plane.value)
        @ elementary_rotation("y", sagittal.value)
    )
    return matrix


def segment_quat(heading: Jet, out_of_plane: Jet, sagittal: Jet) -> np.ndarray:
    """Segment-to-earth quaternions (w, x, y, z) of `segment_matrix`, (N, 4)."""
    return quat_multiply(
        quat_multiply(
            elementary_quat("z", heading.value), elementary_quat("x", out_of_plane.value)
        ),
        elementary_quat("y", sagittal.value),
    )


def body_rates(heading: Jet, out_of_plane: Jet, sagittal: Jet) -> tuple[np.ndarray, np.ndarray]:
    """Angular velocity (rad/s) and acceleration (rad/s^2) in the segment frame, each (N, 3).

    With R = A(h) B(o) C(s): omega = h' C^T B^T e_z + o' C^T e_x + s' e_y, and its time
    derivative follows from d(C^T)/dt = -s' K_y C^T and d(B^T)/dt = -o' K_x B^T.
    """
    b_t = np.swapaxes(elementary_rotation("x", out_of_plane.value), -1, -2)
    c_t = np.swapaxes(elementary_rotation("y", sagittal.value), -1, -2)
    k_x, k_y = _GENERATOR["x"], _GENERATOR["y"]
    up_in_c = c_t @ b_t @ _UNIT[2]  # C^T B^T e_z
    x_in_c = c_t @ _UNIT[0]  # C^T e_x
    h1, h2 = heading.d1[:, None], heading.d2[:, None]
    o1, o2 = out_of_plane.d1[:, None], out_of_plane.d2[:, None]
    s1, s2 = sagittal.d1[:, None], sagittal.d2[:, None]
    omega = h1 * up_in_c + o1 * x_in_c + s1 * _UNIT[1]
    d_up_in_c = -s1 * (up_in_c @ k_y.T) - o1 * (c_t @ k_x @ b_t @ _UNIT[2])
    d_x_in_c = -s1 * (x_in_c @ k_y.T)
    alpha = h2 * up_in_c + h1 * d_up_in_c + o2 * x_in_c + o1 * d_x_in_c + s2 * _UNIT[1]
    return omega, alpha


def point_acceleration(
    rotation: np.ndarray, omega: np.ndarray, alpha: np.ndarray, lever_m: np.ndarray
) -> np.ndarray:
    """Earth-frame acceleration (m/s^2, (N, 3)) of a point fixed at `lever_m` (3,) in a rotating body.

    a = R (alpha x r + omega x (omega x r)) with body-frame rates (N, 3) and R (N, 3, 3).
    """
    lever = np.broadcast_to(np.asarray(lever_m, dtype=float), omega.shape)
    body = np.cross(alpha, lever) + np.cross(omega, np.cross(omega, lever))
    acc_mps2: np.ndarray = np.einsum("nij,nj->ni", rotation, body)
    return acc_mps2


def random_rotation_quat(rng: np.random.Generator) -> np.ndarray:
    """A uniformly distributed random rotation as a unit quaternion (w, x, y, z), shape (4,)."""
    quat = rng.normal(size=4)
    quat /= np.linalg.norm(quat)
    return quat if quat[0] >= 0 else -quat


def quat_to_matrix(quat_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrix of one unit quaternion (w, x, y, z), (4,) -> (3, 3)."""
    w, x, y, z = np.asarray(quat_wxyz, dtype=float) / np.linalg.norm(quat_wxyz)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
