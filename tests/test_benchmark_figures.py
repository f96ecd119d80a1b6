"""The open-set benchmark's own arithmetic: the AUROC it prints and the interval beside each share."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_openset import auroc, wilson


def test_auroc_counts_pairs_and_halves_ties():
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 0.0
    assert auroc(np.array([1.0]), np.array([1.0])) == 0.5
    # 2 of 4 pairs won, one tied: (2 + 0.5) / 4
    assert auroc(np.array([1.0, 3.0]), np.array([1.0, 2.0])) == 0.625


def test_the_interval_is_wilsons():
    # published 95% Wilson intervals (z = 1.96)
    assert wilson(0, 10) == "(0.0-27.8)"
    assert wilson(5, 10) == "(23.7-76.3)"
    assert wilson(10, 10) == "(72.2-100.0)"
    assert wilson(177, 200) == "(83.3-92.2)"
