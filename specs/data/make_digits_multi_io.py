"""Make `digits_multi_io.npz`, the data of `specs/multi_io.yaml`, from scikit-learn's digits.

Three inputs and two targets per example, one row per digit image, in the order scikit-learn
gives them (the spec's seed picks the held-out rows):

    image    the 64 pixels (0..16) divided by 16, as float16 (exact: multiples of 1/16)
    mirror   the same 8x8 image flipped left to right, flattened the same way
    profile  the 8 row sums then the 8 column sums of the 8x8 image of 0..16 pixels, divided
             by 128 (the largest a sum can be), as float16 (exact: multiples of 1/128)
    digit    the label 0..9 (uint8)
    even     1.0 where the label is even, else 0.0 (float16)

Run `python specs/data/make_digits_multi_io.py` to write the file next to this script; the
output is the same on every run (no randomness, fixed archive member times).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).with_name("digits_multi_io.npz")


def make_arrays() -> dict[str, np.ndarray]:
    """The five arrays, by name."""
    digits = load_digits()
    pixels = digits.images.astype(np.float64)  # (n, 8, 8), values 0..16
    labels = digits.target.astype(np.int64)
    profile = np.concatenate([pixels.sum(axis=2), pixels.sum(axis=1)], axis=1) / 128.0
    arrays = {
        "image": (pixels / 16.0).reshape(len(pixels), 64).astype(np.float16),
        "mirror": (pixels[:, :, ::-1] / 16.0).reshape(len(pixels), 64).astype(np.float16),
        "profile": profile.astype(np.float16),
        "digit": labels.astype(np.uint8),
        "even": (labels % 2 == 0).astype(np.float16),
    }
    exact = {
        "image": pixels.reshape(len(pixels), 64) / 16.0,
        "mirror": pixels[:, :, ::-1].reshape(len(pixels), 64) / 16.0,
        "profile": profile,
    }
    for name, values in exact.items():
        if not np.array_equal(arrays[name].astype(np.float64), values):
            raise AssertionError(f"{name} is not exact in float16")
    return arrays


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A compressed `.npz` whose bytes depend only on the arrays (`np.savez_compressed`
    stamps each member with the current time)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, buffer.getvalue(), compresslevel=9)


def main() -> None:
    arrays = make_arrays()
    write_npz(OUT, arrays)
    shapes = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in arrays.items())
    print(f"wrote {OUT.name} ({OUT.stat().st_size:,} bytes): {shapes}")


if __name__ == "__main__":
    main()
