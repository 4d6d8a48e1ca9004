"""What broke an asset rule, named with its values: ranges compacted the way VFX tools write
them, the odd files of a homogeneity rule, the holes of a grid."""

from __future__ import annotations

import pandas as pd
import pytest

from hidebound_dagster.core.rule_details import MAX_SHOWN, compact, explain


@pytest.mark.parametrize(
    ("numbers", "pad", "expected"),
    [
        ([3], 4, "0003"),
        ([1011, 1012, 1013, 1014], 4, "1011-1014"),
        ([1, 3, 5, 7, 9], 4, "0001-0009x2"),
        ([1, 3, 4, 5], 0, "1, 3-5"),
        ([1, 2], 0, "1-2"),
        ([10, 20, 30, 31], 0, "10-30x10, 31"),
        ([5, 1, 5, 3], 0, "1-5x2"),
        (range(0, 100, 3), 0, "0-99x3"),
    ],
)
def test_compact(numbers, pad: int, expected: str) -> None:
    assert compact(numbers, pad) == expected


def test_compact_names_at_most_ten_ranges() -> None:
    text = compact([n * 10 + (n % 2) for n in range(30)])  # no two steps alike: 30 singles
    assert text.count(",") == MAX_SHOWN - 1 and text.endswith("more ranges")


def frames(asset: str, numbers: list[int], **columns) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "asset_path": asset,
            "filename": [f"{asset}_f{n:04d}.png" for n in numbers],
            "frame": numbers,
            **columns,
        }
    )


def test_missing_frames_of_each_asset() -> None:
    rows = pd.concat([frames("a", [1, 2, 6, 7]), frames("b", [1011, 1016])], ignore_index=True)
    assert explain("is_contiguous", rows, ["frame"]).to_dict() == {
        "a": "frame 0003-0005 missing",
        "b": "frame 1012-1015 missing",
    }


def test_homogeneity_names_the_odd_files_and_the_usual_value() -> None:
    widths = [8] * 41 + [16]
    rows = frames("a", list(range(1, 43)), width=widths, extension="png")
    assert explain("is_homogeneous", rows, ["width", "extension"]).to_dict() == {
        "a": "width 16 in a_f0042.png; 8 in the other 41 files"  # extension is homogeneous
    }
    assert explain("is_homogeneous", rows, ["frame"])["a"] == (
        "frame differs in every one of the 42 files"
    )


def test_holes_of_a_grid_and_mixed_axes() -> None:
    grid = [[0, 0], [0, 1], [0, 2], [1, 0]]
    rows = pd.DataFrame(
        {"asset_path": "t", "filename": [f"t{i}" for i in range(4)], "coordinate": grid}
    )
    assert explain("has_dense_coordinates", rows, ["coordinate"]).to_dict() == {
        "t": "coordinate [1, 1], [1, 2] missing from the grid"
    }
    mixed = rows.assign(coordinate=[[0], [0, 1], [0, 2], [1, 0]])
    assert explain("has_dense_coordinates", mixed, ["coordinate"])["t"] == (
        "coordinate values have 1 and 2 axes"
    )


def test_first_coordinate_and_uneven_counts() -> None:
    rows = pd.DataFrame(
        {
            "asset_path": "t",
            "filename": ["x", "y", "z"],
            "coordinate": [[1, 0], [1, 1], [1, 1]],
        }
    )
    assert explain("coordinates_begin_at", rows, ["coordinate"], origin=[0, 0])["t"] == (
        "first coordinate is [1, 0], not [0, 0]"
    )
    assert explain("has_uniform_coordinate_count", rows, ["coordinate"])["t"] == (
        "coordinate [1, 0] once; every other value twice"
    )


def test_values_a_rule_refuses_get_no_explanation_but_no_crash() -> None:
    rows = frames("a", [1, 2]).assign(frame=["x", None])
    assert explain("is_contiguous", rows, ["frame"])["a"] == (
        "frame is not a whole number in a_f0001.png, a_f0002.png"
    )
    assert explain("unknown_rule", rows, ["frame"]).empty
