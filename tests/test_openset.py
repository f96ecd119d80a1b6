"""'Not a digit': six pictures once named as digits are refused, digits are accepted, and the
answer is the same through predict.py, --json and the API; older model files still work."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchnet.apps.inference import Prediction, Predictor
from scratchnet.apps.openset import (DETECTORS, EXAMPLES, HELD_OUT, OUTLIER_NETWORKS, SHIFTS, OpenSet, detectors_for, examples_for,
                                     features, from_int8, held_out_for, mean_over_shifts, outlier_log_odds, outlier_network, outlier_network_pays,
                                     shifted, to_int8)
from scratchnet.core.layers import Dense, ReLU
from scratchnet.core.model import FORMAT_VERSION, RECORD_KEY, Sequential, load_model
from scratchnet.core.networks import mnist_cnn, mnist_fast_cnn
from scratchnet.data.mnist import to_input
from scratchnet.errors import DataError, ModelFileError
from synthetic.nondigits import KINDS, generate, once_named_digits
from test_model import _rewrite_record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def predictor(model_file):
    return Predictor.load(model_file)


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    folder = tmp_path_factory.mktemp("six")
    paths = []
    for i, (name, picture) in enumerate(once_named_digits().items()):
        paths.append(folder / f"{i}_{name.replace(' ', '_')}.png")
        picture.save(paths[-1])
    return paths


def test_six_pictures_once_named_as_digits_are_refused(predictor, six):
    results = predictor.predict_files(six)
    for r in results:
        print(f"{Path(r.file).name:32s} score {r.digit_score:7.2f} (threshold {predictor.openset.threshold:.2f})")
    assert [r.is_digit for r in results] == [False] * 6


def test_digits_are_accepted(predictor, mnist):
    x = to_input(mnist.test_images[:2000])
    scores = predictor.openset.scores(predictor.model, x)
    accepted = (scores >= predictor.openset.threshold).mean()
    print(f"accepted {accepted:.4f} of 2,000 MNIST test digits")
    assert accepted >= 0.98    # calibrated to accept 99.5% of validation digits


def test_non_digits_of_another_generator_are_mostly_refused(predictor):
    from scratchnet.data.preprocess import to_mnist
    refused = {}
    for kind in KINDS:
        x = np.stack([to_mnist(p) for p in generate(kind, 30, seed=5)])[:, None]
        refused[kind] = (predictor.openset.scores(predictor.model, x) < predictor.openset.threshold).mean()
    print("refused:", {k: f"{v:.0%}" for k, v in refused.items()})
    assert np.mean(list(refused.values())) >= 0.8      # the benchmark's model and figures: RESULTS.md


def test_the_detector_travels_in_the_model_file(model_file, tmp_path, mnist):
    model, meta = load_model(model_file, return_metadata=True)
    openset = OpenSet.of(model, meta)
    assert meta["openset"]["threshold"] == openset.threshold and set(model.extras) >= {"openset.mean", "openset.std"}
    model.save(tmp_path / "again.npz", metadata=meta)
    again, meta2 = load_model(tmp_path / "again.npz", return_metadata=True)
    x = to_input(mnist.test_images[:50])
    np.testing.assert_array_equal(OpenSet.of(again, meta2).scores(again, x), openset.scores(model, x))
    assert features(model, x).shape == (50, 32 + 32 + 100 + 10 + 1)
    assert openset.shape and features(model, x, shape=True).shape == (50, 32 + 32 + 100 + 10 + 1 + 8)
    assert len(openset.nets) == meta["openset"]["networks"] == OUTLIER_NETWORKS == 2
    assert set(model.extras) >= {"openset.net.0.W", "openset.net.3.W", "openset.net.9.b", "openset.net1.9.b"}
    assert model.extras["openset.net.7.W"].dtype == model.extras["openset.net1.7.W"].dtype == np.int8   # a quarter of the bytes
    assert all(net.layers[-1].out_features == 11 for net in openset.nets) and model.layers[-1].out_features == 10
    first, second = (net.parameters()["7.W"] for net in openset.nets)
    assert not np.array_equal(first, second)                                 # (from different seeds)


def test_the_outlier_network_has_two_conv_blocks_and_scores_log_odds(mnist):
    """The fast recipe's network with an eleventh output; its log-odds are the log-sum-exp of
    the ten digit logits less the eleventh, computed without overflow."""
    net = outlier_network(seed=0)
    assert [type(l).__name__ for l in net.layers] == [type(l).__name__ for l in mnist_fast_cnn().layers]
    assert net.layers[-1].out_features == 11 and outlier_network(seed=0).describe() == net.describe()
    x = to_input(mnist.test_images[:20])
    z = net.forward(x).astype(np.float64)
    np.testing.assert_allclose(outlier_log_odds(net, x), np.log(np.exp(z[:, :10]).sum(axis=1)) - z[:, 10], rtol=1e-5)
    net.layers[-1].params["b"][10] = 1000.0             # "not a digit", surely: large, finite odds
    assert np.all(np.isfinite(outlier_log_odds(net, x))) and np.all(outlier_log_odds(net, x) < -900)


def legacy_model_file(model_file, path):
    """model_file as a file from before the two-block outlier network holds it: one outlier
    network (and no count of them), shaped as the reference CNN, with an eleventh output
    (weights of another seed)."""
    model, meta = load_model(model_file, return_metadata=True)
    openset = OpenSet.of(model, meta)
    net = mnist_cnn(seed=1)
    net.layers[-1] = Dense(100, 11, rng=np.random.default_rng(1))
    model.extras = {k: v for k, v in model.extras.items() if not k.startswith("openset.net")}
    openset.nets, openset.views = (net,), False      # (the two views came later still)
    info = openset.save_into(model)
    del info["networks"]                             # (and the count later still: version 2)
    model.save(path, metadata=dict(meta, openset=info))

    def as_version_2(record, arrays):
        record["version"] = record["metadata"]["openset"]["net"]["version"] = 2
    _rewrite_record(path, as_version_2)
    return path


def test_a_model_file_with_an_outlier_network_of_the_reference_shape_still_scores(model_file, tmp_path, mnist):
    """A version-2 file: one outlier network, and no count of them."""
    path = legacy_model_file(model_file, tmp_path / "legacy.npz")
    with np.load(path) as npz:
        assert json.loads(str(npz[RECORD_KEY]))["version"] == 2 < FORMAT_VERSION == 3
    predictor = Predictor.load(path)
    net, = predictor.openset.nets
    assert [type(l).__name__ for l in net.layers] == [type(l).__name__ for l in mnist_cnn().layers]
    x = to_input(mnist.test_images[:10])
    d, _ = predictor.openset.detector_log_odds(predictor.model, x)
    want = d / predictor.openset.scales[0] + mean_over_shifts(outlier_log_odds(net, shifted(x))) / predictor.openset.scales[1]
    np.testing.assert_allclose(predictor.openset.scores(predictor.model, x), want, rtol=1e-6)


def test_the_score_averages_the_outlier_networks_log_odds(model_file, mnist):
    """Two outlier networks from different seeds: their log-odds (each the mean over SHIFTS)
    are averaged before they join the detector's; a file missing the second's weights is an error."""
    model, meta = load_model(model_file, return_metadata=True)
    openset = OpenSet.of(model, meta)
    x = to_input(mnist.test_images[:10])
    d, _ = openset.detector_log_odds(model, x)
    each = [mean_over_shifts(outlier_log_odds(net, shifted(x))) for net in openset.nets]
    assert len(each) == 2 and not np.allclose(each[0], each[1])
    np.testing.assert_allclose(openset.scores(model, x), d / openset.scales[0] + np.mean(each, axis=0) / openset.scales[1],
                               rtol=1e-6)
    del model.extras["openset.net1.9.W"]
    with pytest.raises(ModelFileError, match=r"lacks its weights \['openset.net1.9.W'\]"):
        OpenSet.of(model, meta)


def test_the_answer_is_the_network_and_the_outlier_networks_together(predictor, mnist):
    """The digit named: the mean of the network's softmax and the outlier networks' (their mean
    softmax over the ten digits), for the picture as it is (not moved); the score is unchanged by it."""
    from scratchnet.core.losses import softmax
    x = to_input(mnist.test_images[:40])
    scores, _, answer = predictor.openset.answer(predictor.model, x)
    net_alone = softmax(predictor.model.forward(x).astype(np.float64))
    outlier = np.mean([softmax(net.forward(x).astype(np.float64)[:, :10]) for net in predictor.openset.nets], axis=0)
    np.testing.assert_allclose(answer, (net_alone + outlier) / 2, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(answer.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(scores, predictor.openset.scores(predictor.model, x))
    got = predictor.classify([Prediction(str(i), input=image) for i, image in enumerate(x[:, 0])])
    np.testing.assert_allclose([g.probabilities for g in got], answer, rtol=1e-6, atol=1e-7)
    assert [g.digit for g in got] == list(answer.argmax(axis=1))


def test_a_network_fine_tuned_on_corrections_answers_alone(predictor, model_file, mnist, tmp_path):
    """The demo's learning teaches the network, not the outlier network: a predictor for a
    fine-tuned copy, and a file saved by the learner (its metadata counts the corrections),
    name digits by the network's softmax alone; the score still uses both."""
    from scratchnet.core.losses import softmax
    x = to_input(mnist.test_images[:20])
    alone = predictor.with_model(predictor.model.clone())
    model, meta = load_model(model_file, return_metadata=True)
    model.save(tmp_path / "learned.npz", metadata={**meta, "corrections": 1})
    learned = Predictor.load(tmp_path / "learned.npz")
    assert predictor.vote and not alone.vote and not learned.vote
    for p in (alone, learned):
        got = p.classify([Prediction(str(i), input=image) for i, image in enumerate(x[:, 0])])
        np.testing.assert_allclose([g.probabilities for g in got], softmax(predictor.model.forward(x)), rtol=1e-5)
        np.testing.assert_allclose([g.digit_score for g in got], predictor.openset.scores(predictor.model, x), rtol=1e-5)


def test_a_model_file_missing_its_outlier_networks_weights_is_a_one_line_error(model_file, tmp_path):
    model, meta = load_model(model_file, return_metadata=True)
    del model.extras["openset.net.7.W"]
    model.save(tmp_path / "broken.npz", metadata=meta)
    proc = predict("--image", str(ROOT / "docs" / "five_photo.png"), "--model", str(tmp_path / "broken.npz"))
    assert proc.returncode != 0 and "outlier network lacks its weights" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_outlier_network_is_fine_tuned_after_full_runs_only():
    from scratchnet.apps.recipes import AUGMENTED, FAST, REFERENCE
    training = 54000        # MNIST's training images less the 10% held out
    assert outlier_network_pays(training * REFERENCE.epochs) and outlier_network_pays(training * AUGMENTED.epochs)
    assert not outlier_network_pays(60000 * FAST.epochs)            # the record run: the detector alone
    assert not outlier_network_pays(1500 * 3)                        # a short try (--limit 1500)
    assert detectors_for(60000 * FAST.epochs) == detectors_for(training * REFERENCE.epochs) == DETECTORS
    assert detectors_for(1500 * 3) == 1
    assert examples_for(training * REFERENCE.epochs) == examples_for(60000 * FAST.epochs) == EXAMPLES
    assert examples_for(1500 * 3) < EXAMPLES / 4                     # drawn in seconds, not minutes
    # the threshold of a full run on the whole validation split (6,000 of 60,000), of a short try on fewer
    assert held_out_for(training * REFERENCE.epochs) == HELD_OUT == 60000 - training
    assert held_out_for(1500 * 3) < HELD_OUT / 4


def test_int8_weights_are_within_half_a_step_and_come_back_exactly():
    rng = np.random.default_rng(3)
    W = (rng.standard_normal((300, 7)) * rng.uniform(0.001, 3, 7)).astype(np.float32)
    W[:, 2] = 0
    W[5, 4] = 2.0 ** -3 * 127                  # a column whose largest weight is exactly 127 steps
    q, scale = to_int8(W)
    assert q.dtype == np.int8 and scale.dtype == np.float32 and np.abs(q).max() <= 127
    assert np.all(np.abs(q).max(axis=0)[[0, 1, 3, 4, 5, 6]] >= 64)      # a power of two: 7 bits used
    assert np.all(np.abs(from_int8(q, scale) - W) <= scale / 2)
    assert np.all(from_int8(q, scale)[:, 2] == 0) and scale[4] == 2.0 ** -3
    again = to_int8(from_int8(q, scale))                                   # what the model file stores
    np.testing.assert_array_equal(again[0], q)
    np.testing.assert_array_equal(again[1], scale)


def test_a_model_file_from_before_the_outlier_network_scores_with_the_detector_alone(model_file, tmp_path,
                                                                                      mnist):
    model, meta = load_model(model_file, return_metadata=True)
    with_net = OpenSet.of(model, meta)
    info = {k: v for k, v in meta["openset"].items() if k not in ("net", "networks", "scales", "shifts", "views")}   # (after it)
    model.extras = {k: v for k, v in model.extras.items() if not k.startswith("openset.net")}
    model.save(tmp_path / "older.npz", metadata=dict(meta, openset=info))
    again = Predictor.load(tmp_path / "older.npz")
    assert again.openset.nets == () and not again.openset.views
    x = to_input(mnist.test_images[:20])
    alone = with_net.detector.forward(((features(model, x, shape=True) - with_net.mean) / with_net.std)
                                      .astype(np.float32))
    np.testing.assert_allclose(again.openset.scores(again.model, x), alone[:, 1] - alone[:, 0], rtol=1e-5)


def test_shifted_moves_every_picture_by_one_pixel_each_way():
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 1, 3, 4) + 1
    moved = shifted(x)
    assert moved.shape == (len(SHIFTS) * 2, 1, 3, 4)
    for k, (dy, dx) in enumerate(SHIFTS):
        for n in range(2):
            want = np.zeros((3, 4), np.float32)
            for r in range(3):
                for c in range(4):
                    if 0 <= r + dy < 3 and 0 <= c + dx < 4:
                        want[r + dy, c + dx] = x[n, 0, r, c]
            np.testing.assert_array_equal(moved[k * 2 + n, 0], want)
    np.testing.assert_array_equal(mean_over_shifts(np.arange(10.0)), [4, 5])


def test_scores_are_means_over_the_shifted_copies(model_file, mnist):
    """The score of a picture is the mean of what each of its moved copies would score alone:
    the detector's and the outlier networks' mean log-odds, each in units of its spread."""
    model, meta = load_model(model_file, return_metadata=True)
    openset = OpenSet.of(model, meta)
    assert openset.shifts and len(openset.nets) == 2
    x = to_input(mnist.test_images[:6])
    scores, logits = openset.scores(model, x, with_logits=True)
    alone = OpenSet(openset.mean, openset.std, openset.detector, openset.threshold, openset.pixels,
                    openset.shape, openset.nets, openset.scales, shifts=False)
    each = [alone.scores(model, shifted(x, [shift])) for shift in SHIFTS]
    np.testing.assert_allclose(scores, np.mean(each, axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, model.forward(x), rtol=1e-5, atol=1e-5)   # of the pictures as they are


def test_a_thinned_picture_scores_and_is_named_by_the_mean_of_its_two_views(predictor, tmp_path):
    """Where the stroke-width step thinned a drawing (bold letters, filled shapes), its score and
    its answer's probabilities are the means of the input's and the picture-as-drawn's; any other
    picture's are its input's. predict.py's path (read_picture) gives both views; an open set
    without `views` the first."""
    from scratchnet.data.preprocess import to_mnist_views
    openset, model = predictor.openset, predictor.model
    assert openset.views
    pictures = generate("shapes", 12, seed=11) + generate("letters", 12, seed=11)
    views = [to_mnist_views(p) for p in pictures]
    thinned = np.array([d is not x for x, d in views])
    assert 4 <= thinned.sum() < len(pictures)
    x = np.stack([x for x, _ in views])[:, None]
    as_drawn = np.stack([d for _, d in views])[:, None]
    scores, first, second = (openset.scores(model, x, as_drawn=as_drawn), openset.scores(model, x),
                             openset.scores(model, as_drawn))
    np.testing.assert_allclose(scores, np.where(thinned, (first + second) / 2, first), rtol=1e-6, atol=1e-6)
    named, (_, _, as_is), (_, _, drawn) = (openset.answer(model, x, as_drawn=as_drawn)[2], openset.answer(model, x),
                                           openset.answer(model, as_drawn))
    np.testing.assert_allclose(named, np.where(thinned[:, None], (as_is + drawn) / 2, as_is), rtol=1e-6, atol=1e-6)
    assert (np.abs(drawn - as_is)[thinned].max(axis=1) > 0.01).any()   # (the views' answers differ)
    one_view = OpenSet(**{**openset.__dict__, "views": False})
    np.testing.assert_array_equal(one_view.scores(model, x, as_drawn=as_drawn), first)
    np.testing.assert_array_equal(one_view.answer(model, x, as_drawn=as_drawn)[2], as_is)
    paths = []
    for i in np.flatnonzero(thinned)[:3]:
        paths.append(tmp_path / f"{i}.png")
        pictures[i].save(paths[-1])
    got = predictor.predict_files(paths)
    np.testing.assert_allclose([r.digit_score for r in got], scores[np.flatnonzero(thinned)[:3]], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose([r.probabilities for r in got], named[np.flatnonzero(thinned)[:3]], rtol=1e-5, atol=1e-5)


def test_a_model_file_from_before_the_shape_features_reads_without_them(model_file, tmp_path, mnist):
    """An older file's detector was trained on 175 features: it must be given 175, and say so."""
    model, meta = load_model(model_file, return_metadata=True)
    openset = OpenSet.of(model, meta)
    F = len(openset.mean) - 8
    older = Sequential([Dense(F, 4), ReLU(), Dense(4, 2)], input_shape=(F,))
    info = dict(meta["openset"], features=F, hidden=4)
    for key in ("shape", "net", "networks", "scales", "shifts", "views"):      # (written before them)
        info.pop(key, None)
    model.extras = {k: v for k, v in model.extras.items() if not k.startswith("openset.net")}
    model.extras.update({"openset.mean": openset.mean[:F], "openset.std": openset.std[:F]})
    model.extras.update({f"openset.{k}": v for k, v in older.parameters().items()})
    model.save(tmp_path / "older.npz", metadata=dict(meta, openset=info))
    again = Predictor.load(tmp_path / "older.npz")
    assert not again.openset.shape
    assert again.openset.scores(again.model, to_input(mnist.test_images[:5])).shape == (5,)


def _as_version_1(src, dst):
    """The model file without its extras, its record saying version 1 (as 0.1 wrote them)."""
    with np.load(src) as npz:
        arrays = {k: npz[k] for k in npz.files if not k.startswith("extra.")}
    record = json.loads(str(arrays[RECORD_KEY]))
    record["version"] = 1
    record["metadata"].pop("openset", None)
    arrays[RECORD_KEY] = np.array(json.dumps(record))
    np.savez(dst, **arrays)


def predict(*args):
    return subprocess.run([sys.executable, str(ROOT / "predict.py"), *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_version_1_model_files_load_and_say_refusal_is_unavailable(model_file, six, tmp_path):
    old = tmp_path / "old.npz"
    _as_version_1(model_file, old)
    assert Predictor.load(old).openset is None
    proc = predict("--image", str(six[0]), "--model", str(old), "--json")
    assert proc.returncode == 0
    record = json.loads(proc.stdout)
    assert record["is_digit"] is True and record["digit_score"] is None
    assert "has no 'not a digit' detector" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_predict_py_says_none_then_the_closest_digit(model_file, six):
    proc = predict("--image", str(six[0]), "--model", str(model_file))
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr
    assert lines[0] == "Predicted digit : none (does not look like a digit)"
    assert lines[1].startswith("Closest digit   : ") and lines[2].startswith("Confidence      : ")
    proc = predict("--image", str(six[0]), "--model", str(model_file), "--accept-all", "--top-k", "2")
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Predicted digit : ") and "none" not in lines[0]
    assert lines[2].startswith("Top 2")
    proc = predict("--image", str(six[0]), "--model", str(model_file), "--json")
    record = json.loads(proc.stdout)
    assert record["is_digit"] is False and isinstance(record["digit_score"], float)
    assert {"digit", "confidence", "probabilities", "top3"} <= set(record)


def test_a_table_of_pictures_marks_the_refused_ones(model_file, six):
    proc = predict("--image", str(six[0].parent), "--model", str(model_file))
    rows = proc.stdout.splitlines()[1:]
    assert len(rows) == 6 and all(" none (" in row for row in rows)


def test_pictures_preprocessed_in_other_processes_are_those_made_here(monkeypatch):
    from scratchnet.data import nondigits
    rng = np.random.default_rng(0)
    pictures = [nondigits.nondigit_picture(nondigits.FAMILIES[i], rng) for i in range(12)]
    here = np.stack([nondigits._preprocessed_one(p) for p in pictures])
    monkeypatch.setattr(nondigits, "PER_PROCESS", 4)
    monkeypatch.setattr(nondigits, "BLOCK", 5)                 # blocks of 5, 5 and 2 pictures
    monkeypatch.setattr(nondigits, "available_cpus", lambda: 3)
    spawned = []
    real = nondigits.ProcessPoolExecutor

    def counting(workers, **kwargs):
        spawned.append(workers)
        return real(workers, **kwargs)
    monkeypatch.setattr(nondigits, "ProcessPoolExecutor", counting)
    np.testing.assert_array_equal(nondigits.preprocessed(iter(pictures), len(pictures)), here)
    assert spawned == [3] and here.any()


def test_cached_pictures_are_made_again_for_another_generator_or_a_foreign_file(tmp_path, monkeypatch):
    from scratchnet.data import nondigits
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    made = []

    def make():
        made.append(1)
        return {"pictures": np.full((2, 28, 28), len(made), np.uint8)}
    digits = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    assert nondigits._cached("t", ("pictures",), digits, 0, make)["pictures"][0, 0, 0] == 1
    assert nondigits._cached("t", ("pictures",), digits, 0, make)["pictures"][0, 0, 0] == 1 and len(made) == 1
    # a file under that name that is not of these pictures (as an experiment's left-over)
    path, = (tmp_path / "scratchnet" / "openset").glob("t-*.npz")
    np.savez(path, pictures=np.zeros((5, 7), np.float64))
    assert nondigits._cached("t", ("pictures",), digits, 0, make)["pictures"][0, 0, 0] == 2
    np.savez(path, other=np.zeros((2, 28, 28), np.uint8))       # pictures, but not these
    assert nondigits._cached("t", ("pictures",), digits, 0, make)["pictures"][0, 0, 0] == 3
    # an edited generator never reads what the old one cached
    monkeypatch.setattr(nondigits, "_source_hash", lambda: "edited")
    assert nondigits._cached("t", ("pictures",), digits, 0, make)["pictures"][0, 0, 0] == 4


def test_cached_pictures_of_another_generator_are_removed_once_unused_for_a_day(tmp_path, monkeypatch):
    from scratchnet.data import nondigits
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "scratchnet" / "openset"
    folder.mkdir(parents=True)
    day_ago = time.time() - nondigits.STALE_AFTER - 60
    files = {name: folder / name for name in (
        "examples-0123456789abcdef0123.npz",                  # from before the tag: untagged
        "examples-othergenerat-0123456789abcdef0123.npz",      # another generator's, unused
        "calibration-plain-othergenerat-0123456789abcdef0123.npz",   # ... read this morning
        ".examples-x.npz.abc.part",                            # a write killed a day ago
        "notes.txt")}                                          # not the cache's
    for path in files.values():
        path.write_bytes(b"x")
        os.utime(path, (day_ago, day_ago))
    os.utime(files["calibration-plain-othergenerat-0123456789abcdef0123.npz"])
    made = []

    def make():
        made.append(1)
        return {"pictures": np.full((2, 28, 28), 7, np.uint8)}
    digits = np.zeros((3, 28, 28), np.uint8)
    nondigits._cached("calibration-plain", ("pictures",), digits, 0, make)
    left = sorted(p.name for p in folder.iterdir())
    ours, = folder.glob(f"calibration-plain-{nondigits._generator_tag()}-*.npz")
    assert left == sorted([ours.name, "calibration-plain-othergenerat-0123456789abcdef0123.npz", "notes.txt"])
    # this generator's pictures are never removed, and reading them marks them used
    os.utime(ours, (day_ago, day_ago))
    assert nondigits._cached("calibration-plain", ("pictures",), digits, 0, make)["pictures"][0, 0, 0] == 7
    assert ours.exists() and time.time() - ours.stat().st_mtime < 60 and len(made) == 1


def test_stored_pictures_read_a_slice_as_the_array_holds_it(tmp_path):
    from scratchnet.data.nondigits import StoredPictures
    pictures = np.random.default_rng(0).integers(0, 256, (37, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "p.npz", pictures=pictures, other=pictures[:3])
    stored = StoredPictures(tmp_path / "p.npz", "pictures")
    assert len(stored) == 37 and stored.shape == (37, 28, 28) and stored.dtype == np.uint8
    for index in (slice(0, 10), slice(30, 99), slice(5, 5), slice(-4, None), 3, (0, 1, 2)):
        np.testing.assert_array_equal(stored[index], pictures[index])
    np.testing.assert_array_equal(np.asarray(stored), pictures)
    np.savez_compressed(tmp_path / "z.npz", pictures=pictures)        # not plain rows: refused
    with pytest.raises(ValueError):
        StoredPictures(tmp_path / "z.npz", "pictures")
    os.truncate(tmp_path / "p.npz", 2000)          # the cache file cut short while in use: a line
    with pytest.raises(DataError, match="changed while in use"):
        stored[:10]
    os.remove(tmp_path / "p.npz")                 # ... or removed: a line too, not a traceback
    with pytest.raises(DataError, match="cannot read the detector's cached pictures"):
        stored[:1]


def test_averaged_detectors_answer_the_mean_of_their_answers():
    from scratchnet.apps.openset import average
    from scratchnet.core.layers import Dense, ReLU
    from scratchnet.core.model import Sequential
    rng = np.random.default_rng(0)
    detectors = [Sequential([Dense(7, 5, rng=rng), ReLU(), Dense(5, 2, rng=rng)], input_shape=(7,))
                 for _ in range(3)]
    for d in detectors:
        for value in d.parameters().values():
            value[...] = rng.normal(size=value.shape)       # biases too, not only the zeros
    x = rng.normal(size=(50, 7)).astype(np.float32)
    mean = np.mean([d.forward(x) for d in detectors], axis=0)
    np.testing.assert_allclose(average(detectors).forward(x), mean, rtol=1e-5, atol=1e-5)


def test_every_training_family_and_digit_style_draws_ink():
    from scratchnet.data import nondigits
    from scratchnet.data.preprocess import to_mnist
    rng = np.random.default_rng(1)
    digit = np.zeros((28, 28), np.uint8)
    digit[5:23, 12:16] = 255                                      # a bar: a 1
    pictures = [nondigits.nondigit_picture(f, rng) for f in nondigits.FAMILIES]
    pictures += [nondigits.digit_picture(digit, rng), nondigits.traced_digit_picture(digit, rng),
                 nondigits.low_resolution_digit_picture(digit, rng), nondigits.drawn_digit_picture(digit, rng)]
    for picture in pictures:
        assert to_mnist(picture).max() > 0.5
    assert set(nondigits._script_letters()) == set(nondigits.SCRIPTS)   # matplotlib's font found
    for kind in (*nondigits.CHARACTERS, "scripts"):        # every kind in fonts that draw it
        assert len({c for c, _ in nondigits._characters(kind)}) >= 0.9 * len(
            nondigits.CHARACTERS.get(kind) or "".join(nondigits._script_letters().values()))


def test_the_wandering_pen_is_one_stroke_inside_its_canvas_at_a_hands_pace_however_smooth():
    """A scribble of the "wandering pen" family: one unbroken 1-px line that turns back at
    the canvas's edge, about as long for a smooth hand as for a shaky one (its speed does not
    depend on how much of the last step each step keeps)."""
    from scratchnet.data import nondigits
    from scratchnet.data.preprocess import _components
    rng = np.random.default_rng(3)
    for _ in range(40):
        lines = nondigits._wandering_pen(rng)
        assert len(np.unique(_components(lines)[lines])) == 1               # one stroke
        ys, xs = np.nonzero(lines)
        assert min(ys.min(), xs.min()) >= 11 and max(ys.max(), xs.max()) <= nondigits.PEN_SIZE - 12
    ink = {keep: np.median([nondigits._wandering_pen(np.random.default_rng(seed), keep).sum()
                            for seed in range(30)]) for keep in (0.5, 0.92)}
    assert 0.6 < ink[0.92] / ink[0.5] < 1.6, ink


def test_a_nearly_straight_skeleton_is_ruled_straight_and_any_other_left_as_it_is(mnist):
    """The detector's traced and hand-drawn 1s include 1s drawn with a line tool: a skeleton
    within 5% of its length of a straight line becomes that line (upright one time in two);
    MNIST's other digits are never that straight."""
    from scratchnet.data import nondigits
    from scratchnet.data.strokes import skeleton
    rng = np.random.default_rng(0)
    ruled = 0
    for digit, label in zip(mnist.test_images[:300], mnist.test_labels[:300]):
        lines = nondigits._lines_of(Image.fromarray(digit), 80, rng)
        out = nondigits._ruled(lines, rng)
        if label != 1:
            assert (out == lines).all()
        elif not (out == lines).all():
            ruled += 1
            ys, xs = np.nonzero(out)                # one line, one pixel wide: a straight run
            slope = np.polyfit(ys, xs, 1)[0]
            assert np.abs(xs - np.polyval(np.polyfit(ys, xs, 1), ys)).max() <= 1 and abs(slope) < 1
            assert (skeleton(out) == out).all()
    assert ruled >= 0.6 * (mnist.test_labels[:300] == 1).sum()


def test_some_1s_get_a_flag_and_some_0s_a_slash_and_nothing_else_changes(mnist):
    """The detector's digits include 1s with a long flag and slashed 0s (written_variants):
    ink is only added, to 0s and 1s only, a 1's flag to the left of its top and in its upper
    half, a 0's slash inside its box; the same seed draws the same."""
    from scratchnet.data.nondigits import written_variants
    digits, labels = mnist.train_images[:2000], mnist.train_labels[:2000]
    out = written_variants(digits, labels, seed=0)
    assert (out >= digits).all() and (written_variants(digits, labels, seed=0) == out).all()
    changed = (out != digits).any(axis=(1, 2))
    assert not changed[~np.isin(labels, (0, 1))].any()
    for label, share in ((1, 1 / 3), (0, 1 / 4)):
        assert 0.5 * share < changed[labels == label].mean() < 1.5 * share
    for i in np.flatnonzero(changed):
        ys, xs = np.nonzero(digits[i] > 127)
        added_y, added_x = np.nonzero((out[i] > 127) & (digits[i] <= 127))
        if labels[i] == 1:
            assert len(added_y)
            assert added_y.max() <= ys.min() + 0.5 * np.ptp(ys) + 1
            assert added_x.min() < xs[ys <= ys.min() + 1].mean() - 1
        else:
            assert ys.min() - 1 <= added_y.min() and added_y.max() <= ys.max() + 1
            assert xs.min() - 1 <= added_x.min() and added_x.max() <= xs.max() + 1


def test_preprocessing_finishes_in_this_process_when_the_pool_breaks(monkeypatch):
    from concurrent.futures.process import BrokenProcessPool
    from scratchnet.data import nondigits
    rng = np.random.default_rng(4)
    pictures = [nondigits.nondigit_picture(nondigits.FAMILIES[i], rng) for i in range(12)]
    here = np.stack([nondigits._preprocessed_one(p) for p in pictures])
    monkeypatch.setattr(nondigits, "PER_PROCESS", 4)
    monkeypatch.setattr(nondigits, "BLOCK", 5)

    class BreaksOnTheSecondBlock:         # as a pool whose processes die (killed, out of memory)
        def __init__(self, workers, **kwargs):
            self.blocks = 0

        def map(self, fn, items, chunksize):
            self.blocks += 1
            if self.blocks == 1:
                return map(fn, items)

            def broken():
                raise BrokenProcessPool("a process died")
                yield
            return broken()

        def shutdown(self):
            pass
    monkeypatch.setattr(nondigits, "available_cpus", lambda: 2)
    monkeypatch.setattr(nondigits, "ProcessPoolExecutor", BreaksOnTheSecondBlock)
    np.testing.assert_array_equal(nondigits.preprocessed(iter(pictures), len(pictures)), here)
