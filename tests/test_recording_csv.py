"""Raw-recording CSV: round trip and clear errors naming file, line and problem."""

from pathlib import Path

import numpy as np
import pytest

from fusion.types import ImuRecording
from sensor_gateway.recording_csv import (
    RECORDING_CSV_HEADER,
    RecordingFormatError,
    read_recording_csv,
    write_recording_csv,
)

HEADER = ",".join(RECORDING_CSV_HEADER)


def test_round_trip_keeps_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rec = ImuRecording(np.arange(50) / 100.0, rng.normal(size=(50, 3)), rng.normal(size=(50, 3)))
    write_recording_csv(tmp_path / "s.csv", rec)
    back = read_recording_csv(tmp_path / "s.csv")
    np.testing.assert_allclose(back.t_s, rec.t_s, rtol=1e-8)
    np.testing.assert_allclose(back.acc_mps2, rec.acc_mps2, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(back.gyr_radps, rec.gyr_radps, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("t,ax\n", 1, "header"),
        (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2,3,4,5\n", 3, "expected 7 values"),
        (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,x,3,4,5,6\n", 3, "ay_mps2 is 'x'"),
        (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,nan,3,4,5,6\n", 3, "finite"),
        (HEADER + "\n0.5,1,2,3,4,5,6\n0.2,1,2,3,4,5,6\n", 3, "does not increase"),
        ("", 1, "empty"),
    ],
)
def test_malformed_files_name_line_and_problem(
    tmp_path: Path, body: str, line: int, words: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(RecordingFormatError) as info:
        read_recording_csv(path)
    assert info.value.line == line
    assert words in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingFormatError, match="not found"):
        read_recording_csv(tmp_path / "nope.csv")
