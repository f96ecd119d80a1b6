"""Every backward pass against central finite differences, in float64: the catalogue that
`python -m scratchnet.gradcheck` runs, each planted bug caught, and the command itself."""
import subprocess
import sys

import numpy as np
import pytest

from scratchnet.core.gradcheck import (CHECKS, PLANTED_BUGS, TOLERANCE, check_layer, numerical_gradient,
                                       rel_error, run_checks)
from scratchnet.core.layers import Dense
from scratchnet.core.losses import softmax_cross_entropy


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_backward_pass_matches_finite_differences(name):
    rows = run_checks(only=name, seed=0)
    for r in rows:
        print(f"{r.check:38s} {r.what:10s} per array {r.per_array:.1e}  per element {r.per_element:.1e}")
    assert rows and all(r.passed for r in rows)
    assert max(r.per_array for r in rows) < 1e-8     # far below the tolerance, not just under it


@pytest.mark.parametrize("seed", [1, 2])
def test_the_checks_pass_for_other_seeds_too(seed):
    assert all(r.passed for r in run_checks(seed=seed))


# the check that must catch each planted bug (every check under it is run in full by the tests
# above: the catalogue with a bug runs in a fraction of the time of all of it)
CAUGHT_BY = {"relu-mask-off-by-one": "relu", "conv-weight-flipped": "conv", "maxpool-wrong-winner": "maxpool",
             "maxpool-tie-last": "maxpool-ties", "dense-bias-off-by-one": "dense", "loss-not-averaged": "loss",
             "sgd-wrong-sign": "sgd", "fused-relu-ignored": "fused", "im2row-wrong-winner": "im2row",
             "winograd-not-adjoint": "winograd", "adam-uncorrected": "adam"}


def test_every_planted_bug_has_the_check_that_catches_it():
    assert set(CAUGHT_BY) == set(PLANTED_BUGS) and set(CAUGHT_BY.values()) <= set(CHECKS)


@pytest.mark.parametrize("bug", list(PLANTED_BUGS))
def test_every_planted_bug_is_caught(bug):
    rows = run_checks(only=CAUGHT_BY[bug], plant=bug)
    assert any(not r.passed for r in rows), f"planted bug {bug} was not caught by the {CAUGHT_BY[bug]} check"
    # a targeted failure, not everything broken: a check that never runs the planted code passes
    assert all(r.passed for r in run_checks(only="flatten", plant=bug))


def test_planting_is_undone_afterwards():
    run_checks(only="relu", plant="relu-mask-off-by-one")
    assert all(r.passed for r in run_checks(only="relu"))


def test_checker_catches_a_perturbed_gradient():
    rng = np.random.default_rng(0)
    layer = Dense(5, 3, rng=rng).astype(np.float64)
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 3))
    layer.forward(x)
    layer.backward(dout)
    num = numerical_gradient(lambda: float(np.sum(layer.forward(x) * dout)), layer.params["W"])
    assert rel_error(layer.grads["W"], num) < TOLERANCE
    wrong = layer.grads["W"].copy()
    wrong[2, 1] *= 1.001  # a 0.1% error in one entry
    assert rel_error(wrong, num) > TOLERANCE


def test_check_layer_reports_every_array():
    rng = np.random.default_rng(3)
    errors = check_layer(Dense(4, 2, rng=rng), rng.standard_normal((3, 4)), rng)
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-8


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0]])
    loss, grad = softmax_cross_entropy(logits, np.array([2]))
    assert np.isfinite(loss) and loss == pytest.approx(2000.0)
    assert np.all(np.isfinite(grad))


# --------------------------------------------------------------------- the command
def gradcheck(*args):
    return subprocess.run([sys.executable, "-m", "scratchnet.gradcheck", *args], capture_output=True,
                          text=True, timeout=300)


def test_command_checks_everything_and_says_so():
    proc = gradcheck()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for name in ("dense", "relu", "maxpool", "conv", "fused", "[jit]", "[reference]",
                 "softmax cross-entropy", "sgd momentum", "network (mnist_cnn, fused)"):
        assert name in out
    assert "every gradient passes" in out and "worst per-array error" in out
    assert out.count(" ok\n") == len(run_checks())


def test_command_with_a_planted_bug_fails_and_says_it_was_found():
    proc = gradcheck("--plant-bug", "maxpool-wrong-winner", "--only", "maxpool")
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "the planted bug was found" in proc.stdout


def test_command_only_and_bad_names():
    proc = gradcheck("--only", "dense", "--seed", "4", "--eps", "1e-6")
    assert proc.returncode == 0 and "relu" not in proc.stdout and proc.stdout.count("dense ") == 3
    proc = gradcheck("--only", "nonsense")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    proc = gradcheck("--plant-bug", "nonsense")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    listing = gradcheck("--list").stdout
    assert all(bug in listing for bug in PLANTED_BUGS)
