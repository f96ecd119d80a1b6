"""Folders of labelled digit pictures: the demo's corrections, or any pictures a person labels.

Layout: PNG files and a `labels.csv` beside them, one "file,label" line per picture (a
header line first). Every write is atomic (the picture, then the labels file rewritten), so
a folder is never left with a label for a missing picture or half a labels file.
`read_labelled_folder` preprocesses every picture as predict.py does, so any labelled
photos of digits work too, not only the 28x28 inputs the demo stores.
"""
import csv
import io
from pathlib import Path

import numpy as np

from ..errors import DataError, ImageError
from ..fileio import atomic_write
from .preprocess import preprocess_file, save_digit_png

LABELS = "labels.csv"


def read_labels(folder):
    """[(file name, label)] of a labelled folder ([] if it has no labels file yet)."""
    path = Path(folder) / LABELS
    if not path.exists():
        return []
    rows = []
    try:
        with open(path, newline="") as f:
            for i, row in enumerate(csv.reader(f)):
                if i == 0 and row == ["file", "label"]:
                    continue
                if len(row) != 2 or not row[1].strip().isdigit() or not 0 <= int(row[1]) <= 9:
                    raise DataError(f"{path}, line {i + 1}: expected 'file,label' with a digit 0-9, got {row}")
                rows.append((row[0], int(row[1])))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot read the labels ({e})") from None
    return rows


def read_labelled_folder(folder):
    """uint8 (N, 28, 28) MNIST-style images and (N,) labels from a labelled folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of labelled pictures")
    rows = read_labels(folder)
    if not rows:
        raise DataError(f"{folder}: no {LABELS} with labelled pictures in it")
    images = np.empty((len(rows), 28, 28), dtype=np.uint8)
    for i, (name, _) in enumerate(rows):
        try:
            images[i] = np.round(preprocess_file(folder / name) * 255)
        except ImageError as e:
            raise DataError(f"{folder / LABELS} names a picture that cannot be used: {e}") from None
    return images, np.array([label for _, label in rows], dtype=np.uint8)


def add_to_folder(folder, digit, label):
    """Store a (28, 28) digit in [0, 1] as the next picture of the folder; returns its name."""
    folder = Path(folder)
    rows = read_labels(folder)
    name = f"{len(rows) + 1:05d}_{label}.png"
    buf = io.BytesIO()
    save_digit_png(digit, buf)
    with atomic_write(folder / name) as f:
        f.write(buf.getvalue())
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["file", "label"])
    writer.writerows(rows + [(name, int(label))])
    with atomic_write(folder / LABELS, "w") as f:
        f.write(text.getvalue())
    return name
