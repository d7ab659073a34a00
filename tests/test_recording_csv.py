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
        # float() takes Python's digit grouping and any script's digits; a CSV number is neither
        (HEADER + "\n0,1,2,3,4,5,6\n0.01,0_5,2,3,4,5,6\n", 3, "ax_mps2 is '0_5', not a number"),
        (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2,3,4,5,\u0661\n", 3, "gz_radps is '\u0661'"),
        (HEADER + "\n0,1,2,3,4,5,6\n1_0,1,2,3,4,5,6\n", 3, "t_s is '1_0', not a number"),
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


@pytest.mark.parametrize("where", ["file-as-folder", "name-too-long", "link-loop"])
def test_a_path_that_cannot_be_opened_is_a_clear_error(tmp_path: Path, where: str) -> None:
    # Found by probing: `winkwatch gateway --replay set/sacrum.csv` (a file given for the
    # folder) and `analyze --sacrum` with such a path ended with NotADirectoryError / OSError.
    (tmp_path / "sacrum.csv").write_text(HEADER + "\n0,1,2,3,4,5,6\n")
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    path = {
        "file-as-folder": tmp_path / "sacrum.csv" / "sacrum.csv",
        "name-too-long": tmp_path / ("x" * 300 + ".csv"),
        "link-loop": tmp_path / "loop.csv",
    }[where]
    with pytest.raises(RecordingFormatError) as info:
        read_recording_csv(path)
    assert str(info.value).startswith(f"{path}: ")
    assert info.value.line is None


# Hostile files: each must give a clean RecordingFormatError (or be accepted), never a
# traceback from the csv module or pyarrow.
@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (HEADER + '\n0,1,2,3,4,5,6\n"0.01,1,2,3,4,5,6\n0.02,1,2,3,4,5,6\n', 3, "never closed"),
        (HEADER + '\n0,1,2,3,4,5,6\n0.01,1,2,"3,4,5,6\n', 3, "never closed"),
        (HEADER + "\n0,1,2,3,4,5,6\n0.01," + "1" * 131073 + ",2,3,4,5,6\n", 3, "longer than"),
        (HEADER + "\n0,1,2,3,4,5,6\n0.01,1," + "x" * 100000 + ",3,4,5,6\n", 3, "not a number"),
    ],
)
def test_hostile_files_are_clean_errors(tmp_path: Path, body: str, line: int, words: str) -> None:
    path = tmp_path / "hostile.csv"
    path.write_text(body)
    with pytest.raises(RecordingFormatError) as info:
        read_recording_csv(path)
    assert info.value.line == line
    assert words in str(info.value)
    assert len(str(info.value)) < 400  # a 100k-character cell is not echoed whole


def test_an_endless_line_is_refused_not_read_into_memory() -> None:
    """/dev/zero has no newline: a file iterator would read it until memory ran out."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    with pytest.raises(RecordingFormatError, match="longer than") as info:
        read_recording_csv("/dev/zero")
    assert info.value.line == 1


def test_utf8_byte_order_mark_before_the_header_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2,3,4,5,6\n").encode())
    rec = read_recording_csv(path)
    np.testing.assert_array_equal(rec.t_s, [0.0, 0.01])
    np.testing.assert_array_equal(rec.gyr_radps[1], [4.0, 5.0, 6.0])


def _large_body(rows: int) -> list[str]:
    rng = np.random.default_rng(3)
    data = np.column_stack([np.arange(rows) / 200.0, rng.normal(size=(rows, 6))])
    return [",".join(f"{value:.9g}" for value in row) for row in data]


@pytest.fixture(scope="module")
def large_lines() -> list[str]:
    return _large_body(30_000)  # ~2 MB: read by the fast (pyarrow) path


def test_fast_path_reads_exactly_what_the_careful_reader_reads(
    tmp_path: Path, large_lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sensor_gateway.recording_csv as module

    path = tmp_path / "large.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([HEADER, *large_lines, ""]).encode())
    assert path.stat().st_size >= module.FAST_READER_MIN_BYTES
    fast = module._read_fast(path)
    assert fast is not None
    monkeypatch.setattr(module, "FAST_READER_MIN_BYTES", 1 << 40)
    careful = read_recording_csv(path)
    np.testing.assert_array_equal(fast.t_s, careful.t_s)
    np.testing.assert_array_equal(fast.acc_mps2, careful.acc_mps2)
    np.testing.assert_array_equal(fast.gyr_radps, careful.gyr_radps)
    assert len(fast) == 30_000
    for rec in (fast, careful):  # sensor values as float32 (half the memory), time float64
        assert rec.t_s.dtype == np.float64
        assert rec.acc_mps2.dtype == rec.gyr_radps.dtype == np.float32


@pytest.mark.parametrize(
    ("bad_line", "words"),
    [
        ("{t},1,2,x,4,5,6", "az_mps2 is 'x'"),
        ("{t},1,2,0_5,4,5,6", "az_mps2 is '0_5', not a number"),
        ("{t},1,2,3,nan,5,6", "finite"),
        ("{t},1,2,3,4,5", "expected 7 values"),
        ("{t},1,,3,4,5,6", "ay_mps2 is ''"),
        ("0,1,2,3,4,5,6", "does not increase"),
        ('"{t},1,2,3,4,5,6', "never closed"),
    ],
)
def test_large_files_name_the_bad_line_too(
    tmp_path: Path, large_lines: list[str], bad_line: str, words: str
) -> None:
    lines = list(large_lines)
    index = 25_000
    lines[index] = bad_line.format(t=index / 200.0 + 0.001)
    path = tmp_path / "large_bad.csv"
    path.write_text("\n".join([HEADER, *lines, ""]))
    with pytest.raises(RecordingFormatError) as info:
        read_recording_csv(path)
    assert info.value.line == index + 2  # 1-based, after the header
    assert words in str(info.value)
