""""Not a digit": how much a picture looks like a digit at all, and a calibrated threshold.

A classifier trained on digits names a digit for anything. The open-set score here comes
from a small detector trained after the network, on what the network computes for a picture:

  features  per conv channel the mean and the maximum of the pooled feature maps, the last
            hidden layer, the logits and their log-sum-exp (the "energy"), and how the
            drawing is put together: its pieces, holes, stroke ends, junctions, length, area
            and box (data/topology.py)              -> 175 + 8 numbers for the reference CNN
  detector  Dense(183, 64) -> ReLU -> Dense(64, 2), digit vs not a digit, trained with the
            framework's own fit() (so its backward pass is the gradient-checked Dense and
            softmax cross-entropy) on MNIST training digits (as MNIST drew them, drawn as
            canvas pictures, traced with pens of any width, at low resolution, by a wobbling
            hand) against non-digits of 32 families (data/nondigits.py), all preprocessed as
            predict.py does. DETECTORS of them, from different seeds, are averaged into one
            Dense(183, 192) -> ReLU -> Dense(192, 2) (average())
  outliers  OUTLIER_NETWORKS networks of their own, from different seeds, with an eleventh
            output, "not a digit", trained on the same pictures and more MNIST digits
            (outlier exposure, Hendrycks et al. 2019): two conv blocks, the fast recipe's
            network, whose filters learn what sets digits apart, which the classifier's,
            trained on digits alone, never had to (outlier_network(); trained when
            fit_open_set is given the digits' labels)
  score     the detector's log-odds of "digit", plus the outlier networks' mean log-odds
            (log-sum-exp of the ten digit logits minus the "not a digit" logit), each divided
            by its spread over held-out digits, and each the mean over the picture and its four copies
            moved by one pixel (SHIFTS: a digit looks like a digit wherever it sits, while a
            non-digit that happens to look like one in one place seldom does in all five); a
            picture is taken for a digit when its score reaches the threshold that accepts
            ACCEPT (99.5%) of held-out digits in each of the CALIBRATION styles
  answer    the digit named: the mean of the network's softmax and the outlier networks' (their
            mean softmax over the ten digits; OpenSet.answer): they learnt digits in every pen
            style, and together name more of people's digits right; for a picture the stroke-width step
            thinned, the mean of that over the picture and the picture as drawn

Alone, the maximum softmax probability and the energy score refused far fewer non-digits,
and so did distances to training digits' features (docs/openset.md); the detector has the
first two among its features. The counts of pieces, holes and stroke ends raised the share of
thin-pen digits kept and the AUROC (docs/openset.md). A detector that also sees the input's
2x2-pooled pixels (pixels=True, recorded in the model file) was tried and refused no more.

The network is not changed: the MNIST accuracy train.py prints is exactly the trained
network's. The detector's arrays, the outlier networks' weights and the threshold travel in the
model file (model.extras; the outlier networks' layers and count in its metadata, format
version 3: a version-2 file holds one, and no count); a file
without an outlier network scores with the detector alone, and a model without any of them
(version 1) takes every picture for a digit and says so (OpenSet.of -> None).
Which features it reads is in the file's metadata ("shape", "pixels"), and whether its scores
are means over SHIFTS ("shifts"): a file written before either existed scores without them, as
it was calibrated.
"""
from dataclasses import dataclass

import numpy as np

from ..core.layers import Dense, ReLU
from ..core.losses import softmax
from ..core.model import Sequential, build_model
from ..core.networks import mnist_fast_cnn
from ..core.training import SCHEDULES, cosine_decay, fit
from ..errors import ModelFileError

ACCEPT = 0.995         # of held-out validation digits (at 0.99, 2.4% of the user-style PNGs
                       # were refused: bench_openset, RESULTS.md)
HIDDEN = 64            # the detector's hidden units
PIXELS = False
SHAPE = True           # the drawing's topology among the features (data/topology.py)
METHOD = "detector on conv statistics, hidden layer, logits, energy and the drawing's topology"
SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))   # (rows, columns) a picture's copies move:
                                     # their mean score tells digits from non-digits better than
                                     # the picture's alone (AUROC, docs/openset.md); the fast
                                     # recipe's test accuracy is their mean too (apps/recipes.py)


def features(model, x, batch_size=64, with_logits=False, pixels=False, shape=False):
    """(N, *input_shape) float inputs -> (N, F) open-set features (see module docstring), and
    the network's logits (N, classes) too if asked (they are among the features). The conv
    statistics come from the last (N, C, H, W) output before the dense layers, whether the
    network's conv, ReLU and pooling run fused or as three layers. pixels=True adds the
    input itself, 2x2-average-pooled (14x14 = 196 numbers for MNIST); shape=True the
    drawing's topology (data/topology.FEATURES), last."""
    out, logits = [], []
    for i in range(0, len(x), batch_size):
        h, parts, stages = x[i:i + batch_size], [], model.stages()
        maps = None
        for k, stage in enumerate(stages):
            h = stage.forward(h)
            if h.ndim == 4:
                maps = h
            if k == len(stages) - 2:
                hidden = h.reshape(len(h), -1).copy()        # the last hidden layer
        if maps is not None:
            per_channel = maps.reshape(len(maps), maps.shape[1], -1)
            parts += [per_channel.mean(axis=2), per_channel.max(axis=2)]
        parts.append(hidden)
        top = h.max(axis=1, keepdims=True)
        energy = top + np.log(np.exp(h - top).sum(axis=1, keepdims=True))
        parts += [h, energy]
        if pixels:
            xs = x[i:i + batch_size]
            n, H, W = len(xs), xs.shape[-2] // 2 * 2, xs.shape[-1] // 2 * 2
            parts.append(xs.reshape(n, -1, xs.shape[-1])[:, :H, :W].reshape(n, H // 2, 2, W // 2, 2)
                         .mean(axis=(2, 4)).reshape(n, -1))
        out.append(np.hstack(parts).astype(np.float32))
        logits.append(h.copy())
    feats = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    if shape and len(x):
        from ..data.topology import shape_features
        feats = np.hstack([feats, shape_features(x.reshape(len(x), *x.shape[-2:]))])
    return (feats, np.concatenate(logits)) if with_logits else feats


def shifted(x, shifts=SHIFTS):
    """(N, C, H, W) inputs -> (len(shifts) * N, C, H, W): all N moved by the first shift, then
    all by the second, ...; what moves out of the picture is dropped, and zeros come in."""
    N, _, H, W = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    return np.concatenate([padded[:, :, 1 - dy:1 - dy + H, 1 - dx:1 - dx + W] for dy, dx in shifts])


def mean_over_shifts(values, shifts=SHIFTS):
    """(len(shifts) * N, ...) values of shifted(x) -> (N, ...): each picture's mean over its copies."""
    return values.reshape(len(shifts), -1, *values.shape[1:]).mean(axis=0)


def outlier_network(seed=0, classes=10):
    """The outlier network, freshly initialised: the fast recipe's network (two conv blocks,
    core/networks.mnist_fast_cnn) with one more output, "not a digit". Two conv blocks told
    more non-digits from digits than a copy of the one-block classifier fine-tuned with an
    eleventh output, which files written before it hold (docs/openset.md)."""
    net = mnist_fast_cnn(seed=seed)
    last = net.layers[-1]
    net.layers[-1] = Dense(last.in_features, classes + 1, init="glorot_uniform",
                           rng=np.random.default_rng([seed, 11]))
    return net


def outlier_network_votes(metadata):
    """Whether a model file's outlier network joins its network in naming the digit
    (OpenSet.answer): not in a file the demo fine-tuned on corrections (apps/learning.py; its
    metadata counts them), whose network learnt them and the outlier network did not."""
    return "corrections" not in (metadata or {})


def to_int8(W):
    """(D, M) float32 weights -> (int8 (D, M), float32 scale (M,)): each output column scaled by
    the power of two that brings its largest weight within +-127. The outlier network keeps
    its large matrices so (a quarter of the bytes: the web page's weights stay under 3 MB) and
    computes with from_int8's values, in Python and in the page alike. A power of two makes
    q * scale exact, so from_int8's weights give back the same q and scale."""
    top = np.abs(W).max(axis=0).astype(np.float64) / 127
    m, e = np.frexp(top)                          # top = m 2^e, m in [0.5, 1)
    scale = np.where(top > 0, np.ldexp(1.0, np.where(m == 0.5, e - 1, e)), 1.0).astype(np.float32)
    return np.round(W / scale).astype(np.int8), scale


def from_int8(q, scale):
    """to_int8's weights as float32: q * scale, one float32 product each (as the page computes)."""
    return q.astype(np.float32) * scale


INT8_FROM = 10000   # the outlier network's matrices of at least this many weights are kept as int8


def net_prefix(k):
    """The names of the k-th outlier network's weights in the model file and the page's
    model.bin: "openset.net.<name>" for the first (as files with one have them), then
    "openset.net1.<name>", ..."""
    return "openset.net." if k == 0 else f"openset.net{k}."


def outlier_log_odds(net, x, batch_size=256, with_logits=False):
    """(N, *input_shape) inputs -> (N,) log P(one of the digits) - log P(not a digit) under the
    outlier network: the log-sum-exp of its digit logits minus its last logit; and its digit
    logits (N, classes) too if asked."""
    out, digits = [], []
    for i in range(0, len(x), batch_size):
        z = net.forward(x[i:i + batch_size]).astype(np.float64)
        top = z[:, :-1].max(axis=1)
        out.append(top + np.log(np.exp(z[:, :-1] - top[:, None]).sum(axis=1)) - z[:, -1])
        digits.append(z[:, :-1])
    log_odds = np.concatenate(out) if out else np.zeros(0)
    if with_logits:
        return log_odds, np.concatenate(digits) if digits else np.zeros((0, net.layers[-1].out_features - 1))
    return log_odds


@dataclass
class OpenSet:
    mean: np.ndarray        # (F,) feature standardisation
    std: np.ndarray         # (F,)
    detector: Sequential    # Dense(F, 2): class 1 = a digit
    threshold: float        # scores below it: not a digit
    pixels: bool = False    # the input's pooled pixels are among the features
    shape: bool = False     # the drawing's topology is among the features
    nets: tuple = ()        # the outlier networks (outlier_network), averaged; (): the detector alone
    scales: tuple = (1.0, 1.0)   # the detector's and the outlier networks' spread over digits
    shifts: bool = False    # scores are means over the picture moved by SHIFTS
    views: bool = False     # a thinned picture's score and answer are the means of its two views'

    def scores(self, model, x, with_logits=False, as_drawn=None):
        """(N, *input_shape) network inputs -> (N,) how much each picture looks like a digit
        (the detector's log-odds, plus the outlier networks', each in units of its spread over
        held-out digits), and the network's logits (N, classes) for the pictures as they are,
        computed on the way, if asked. as_drawn: see answer()."""
        scores, logits, _ = self.answer(model, x, vote=False, as_drawn=as_drawn)
        return (scores, logits) if with_logits else scores

    def answer(self, model, x, vote=True, as_drawn=None):
        """(N, *input_shape) network inputs -> (scores (N,) as scores() gives them, the network's
        logits (N, classes), and the probabilities (N, classes) the answer names its digit by):
        the mean of the network's softmax and the outlier networks' (their mean softmax over
        the ten digits), for the pictures as they are; the network's softmax alone without
        outlier networks or with vote=False (outlier_network_votes). The outlier networks,
        two conv blocks trained on digits in many pen styles, name more of people's digits
        right, and the two answers together more than either (docs/openset.md).

        as_drawn: the same pictures as drawn (preprocess.to_mnist_views), or None. With
        self.views, a picture that differs from its view as drawn (the stroke-width step thinned
        it) scores the mean of its two views' scores, and its probabilities are the mean of
        the two views' too: thinning a filled shape leaves a stick, which looks like a 1; a fat
        digit still looks like a digit as drawn, and the two views name more fat digits right."""
        scores, logits, probabilities = self._scores_and_answer(model, x, vote)
        if self.views and as_drawn is not None and len(x):
            thinned = np.flatnonzero((as_drawn != x).reshape(len(x), -1).any(axis=1))
            if len(thinned):
                drawn_scores, _, drawn_probabilities = self._scores_and_answer(model, as_drawn[thinned], vote)
                scores[thinned] = (scores[thinned] + drawn_scores) / 2
                probabilities[thinned] = (probabilities[thinned] + drawn_probabilities) / 2
        return scores, logits, probabilities

    def _scores_and_answer(self, model, x, vote):
        """(scores, the network's logits, the probabilities the answer names its digit by) for
        the pictures as they are."""
        scores, logits, theirs = self._scores(model, x)
        probabilities = softmax(logits)
        if vote and theirs is not None:
            probabilities = (probabilities + theirs) / 2
        return scores, logits, probabilities

    def _scores(self, model, x):
        """(scores (N,), the network's logits, the outlier networks' digit probabilities or None)."""
        scores, logits = self.detector_log_odds(model, x)
        if not self.nets:
            return scores, logits, None
        more, theirs = self.outlier_log_odds(x, with_probabilities=True)
        return scores / self.scales[0] + more / self.scales[1], logits, theirs

    def detector_log_odds(self, model, x):
        """(N,) the detector's log-odds of "a digit" (their mean over SHIFTS if self.shifts) and
        the network's logits (N, classes) for the pictures as they are."""
        moved = shifted(x) if self.shifts else x
        feats, logits = features(model, moved, with_logits=True, pixels=self.pixels)
        if self.shape and len(x):   # (the topology does not change when a picture moves: counted once)
            from ..data.topology import shape_features
            once = shape_features(x.reshape(len(x), *x.shape[-2:]))
            feats = np.hstack([feats, np.tile(once, (len(moved) // len(x), 1))])
        out = self.detector.forward(((feats - self.mean) / self.std).astype(np.float32))
        log_odds = (out[:, 1] - out[:, 0]).astype(np.float64)
        if self.shifts:
            return mean_over_shifts(log_odds), logits[:len(x)]     # (SHIFTS[0]: not moved)
        return log_odds, logits

    def outlier_log_odds(self, x, with_probabilities=False):
        """(N,) the outlier networks' mean log-odds (outlier_log_odds; each network's the mean
        over SHIFTS if self.shifts); and their mean softmax over the ten digits (N, classes),
        for the pictures as they are, if asked."""
        moved = shifted(x) if self.shifts else x
        log_odds, probabilities = 0.0, 0.0
        for net in self.nets:
            more, digit_logits = outlier_log_odds(net, moved, with_logits=True)
            log_odds = log_odds + (mean_over_shifts(more) if self.shifts else more)
            probabilities = probabilities + softmax(digit_logits[:len(x)])   # (SHIFTS[0]: not moved)
        log_odds, probabilities = log_odds / len(self.nets), probabilities / len(self.nets)
        return (log_odds, probabilities) if with_probabilities else log_odds

    def save_into(self, model):
        """Attach to the model's extras and return the metadata entry for its file."""
        model.extras.update({"openset.mean": self.mean, "openset.std": self.std})
        model.extras.update({f"openset.{k}": v for k, v in self.detector.parameters().items()})
        info = {"method": METHOD, "threshold": self.threshold, "accept": ACCEPT,
                "features": int(len(self.mean)), "hidden": self.detector.layers[0].out_features,
                "pixels": self.pixels, "shape": self.shape, "shifts": self.shifts, "views": self.views}
        if self.nets:
            model.extras.update(self.net_arrays())
            info.update(net=self.nets[0].describe(), networks=len(self.nets),
                        scales=[float(s) for s in self.scales])
        return info

    def net_arrays(self):
        """The outlier networks' weights as stored (in the model file and the web page's
        model.bin): net_prefix(k) + "<name>", their matrices of INT8_FROM weights or more as
        int8 with "<prefix><name>.scale" beside (their values are from_int8's: the same back)."""
        arrays = {}
        for k, net in enumerate(self.nets):
            for key, value in net.parameters().items():
                name = net_prefix(k) + key
                if value.size >= INT8_FROM:
                    value, arrays[name + ".scale"] = to_int8(value)
                arrays[name] = value
        return arrays

    @classmethod
    def of(cls, model, metadata):
        """The open set saved with a model, or None (a model trained before version 2)."""
        info = (metadata or {}).get("openset")
        if not info or "openset.0.W" not in model.extras:
            return None
        detector = Sequential([Dense(int(info["features"]), int(info["hidden"])), ReLU(),
                               Dense(int(info["hidden"]), 2)], input_shape=(int(info["features"]),))
        for key, value in detector.parameters().items():
            value[...] = model.extras[f"openset.{key}"]
        nets, scales = [], (1.0, 1.0)
        # (files written before the outlier network have none, before their count one)
        for k in range(int(info.get("networks", 1)) if info.get("net") else 0):
            net, prefix = build_model(info["net"], "the model file's outlier network", initialise=False), net_prefix(k)
            missing = [prefix + key for key in net.parameters() if prefix + key not in model.extras]
            if missing:
                raise ModelFileError(f"the model file's outlier network lacks its weights {missing}")
            for key, value in net.parameters().items():
                stored, scale = model.extras[prefix + key], model.extras.get(prefix + key + ".scale")
                value[...] = stored if scale is None else from_int8(stored, scale)
            nets.append(net)
        if nets:
            scales = tuple(float(s) for s in info["scales"])
        return cls(model.extras["openset.mean"], model.extras["openset.std"], detector,
                   float(info["threshold"]), bool(info.get("pixels", False)), bool(info.get("shape", False)),
                   tuple(nets), scales, bool(info.get("shifts", False)), bool(info.get("views", False)))


EXAMPLES = 9000   # training digits the detector learns from (against 35,077 non-digits)
SHORT_EXAMPLES = 1000   # ... after a short try (--limit): drawn in seconds, not minutes
HELD_OUT = 6000   # held-out digits its threshold is calibrated on (train.py: the validation
                  # split): the 0.5% left out of 1,000 were 5 pictures, and another draw of 1,000
                  # moved the threshold more than a change to the detector did (docs/openset.md)
SHORT_HELD_OUT = 1000   # ... after a short try (--limit)
DETECTORS = 3     # trained from different seeds and averaged: one seed's detector refuses
                  # more of one kind and fewer of another (docs/openset.md)
OUTLIER_NETWORKS = 2   # outlier networks from different seeds, averaged, for the same reason:
                       # where one network's threshold lands moved a kind by points (docs/openset.md)
# held-out digit styles the threshold keeps ACCEPT of each of (not "traced": the tracer's
# worst 0.5%, skeletons broken at small sizes, would set it where few non-digits are refused)
CALIBRATION = ("plain", "canvas", "low resolution")
OUTLIER_EPOCHS = 4     # the outlier network's training, as --recipe fast trains its network (Adam,
                       # one-cycle), on the detector's pictures and MORE_DIGITS MNIST digits
                       # (8 and 12 kept fewer digits drawn small and refused fewer Fashion items)
MORE_DIGITS = 24000    # more MNIST digits it learns to name, besides the detector's (it starts
                       # from nothing)
FULL_PASS = 50000      # images trained (all epochs): from here on a run has passed over about all
                       # of MNIST's training images; fewer is a short try (--limit)


def detectors_for(images_trained):
    """How many detectors a run that trained on `images_trained` images (all epochs) averages:
    DETECTORS after at least a pass over MNIST's training images, one after a shorter try
    (--limit), whose network is too rough for the average to matter (a third of the time)."""
    return DETECTORS if images_trained >= FULL_PASS else 1


def examples_for(images_trained):
    """How many training digits the detector of a run that trained on `images_trained` images
    learns from: EXAMPLES after a pass over MNIST's training images, SHORT_EXAMPLES after a
    shorter try, whose first run would otherwise spend minutes drawing the pictures of a
    detector for a network that rough."""
    return EXAMPLES if images_trained >= FULL_PASS else SHORT_EXAMPLES


def held_out_for(images_trained):
    """How many held-out digits the threshold of a run that trained on `images_trained` images
    is calibrated on: HELD_OUT after a pass over MNIST's training images, SHORT_HELD_OUT after
    a shorter try (drawn in seconds)."""
    return HELD_OUT if images_trained >= FULL_PASS else SHORT_HELD_OUT


def outlier_network_pays(images_trained):
    """Whether a run that trained on `images_trained` images (all epochs) trains the outlier
    networks too: only if that took at least half as many images as the outlier networks'
    training will (the reference and --augment recipes do; --recipe fast and short runs score
    with the detector alone rather than spend many times longer on it than on the network)."""
    from ..data.nondigits import NEGATIVES_PER_DIGIT
    pictures = EXAMPLES + round(NEGATIVES_PER_DIGIT * EXAMPLES) + MORE_DIGITS
    return 2 * images_trained >= OUTLIER_NETWORKS * OUTLIER_EPOCHS * pictures


def in_chunks(fn, images, prepare, input_shape, chunk=256, out=None):
    """fn(float inputs) for uint8 images, converted by `prepare` a chunk at a time (never a
    float copy of all of them), the results concatenated, or written into `out` (returned)."""
    buffer = np.empty((min(chunk, len(images)), *input_shape), np.float32)
    results = (fn(prepare(images[i:i + chunk], buffer[:len(images[i:i + chunk])]))
               for i in range(0, len(images), chunk))
    if out is None:
        return np.concatenate(list(results))
    for i, result in zip(range(0, len(images), chunk), results):
        out[i:i + len(result)] = result
    return out


def average(detectors):
    """k Dense(F, H) -> ReLU -> Dense(H, 2) networks -> one Dense(F, kH) -> ReLU -> Dense(kH, 2)
    whose output is exactly the mean of theirs (their hidden units side by side, the output
    layer's weights divided by k): the model file and the page's code stay those of one."""
    k, first = len(detectors), detectors[0]
    F, H = first.layers[0].in_features, first.layers[0].out_features
    merged = Sequential([Dense(F, k * H), ReLU(), Dense(k * H, 2)], input_shape=(F,))
    (W1, b1), (W2, b2) = ((merged.layers[i].params["W"], merged.layers[i].params["b"]) for i in (0, 2))
    for j, d in enumerate(detectors):
        W1[:, j * H:(j + 1) * H] = d.layers[0].params["W"]
        b1[j * H:(j + 1) * H] = d.layers[0].params["b"]
        W2[j * H:(j + 1) * H] = d.layers[2].params["W"] / k
    b2[...] = np.mean([d.layers[2].params["b"] for d in detectors], axis=0)
    return merged


def fit_outlier_network(positives, positive_labels, negatives, prepare, more=None, seed=0,
                        epochs=OUTLIER_EPOCHS):
    """outlier_network() trained to name the digits in `positives` (uint8 pictures, their
    digits `positive_labels`) and in `more` (MNIST images, labels), and "not a digit" (the
    last class) for `negatives`: outlier exposure. By the framework's own fit() (the
    gradient-checked layers and loss), as --recipe fast trains its network (Adam, one-cycle,
    batch 128, the batch split over the cores), every picture distorted as --augment
    distorts them (it then refused more doodles, letters and Fashion items and kept more
    digits: docs/openset.md)."""
    from ..data.augment import Augmentation, Augmenter   # (training only: not on predict.py's path)
    from .recipes import AUGMENTED, FAST
    net = outlier_network(seed)
    more_images, more_labels = more if more is not None else (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64))
    images = np.concatenate([positives[:], more_images, negatives[:]])
    labels = np.concatenate([positive_labels, more_labels,
                             np.full(len(negatives), net.layers[-1].out_features - 1)]).astype(np.int64)
    fit(net, (images, labels), epochs=epochs, batch_size=FAST.batch_size, seed=seed, prepare=prepare,
        optimizer=FAST.new_optimizer(), schedule=SCHEDULES[FAST.schedule], parallel=FAST.parallel,
        augment=Augmenter(Augmentation(**AUGMENTED.augmentation), seed=seed))
    net.release_buffers()
    for value in net.parameters().values():
        if value.size >= INT8_FROM:
            value[...] = from_int8(*to_int8(value))
    return net


def fit_open_set(model, digits, val_digits, prepare, seed=0, examples=EXAMPLES, on_prepare=None,
                 labels=None, more=None, outlier_epochs=OUTLIER_EPOCHS, detectors=DETECTORS,
                 outlier_networks=OUTLIER_NETWORKS):
    """Train the detector for `model` and calibrate its threshold; returns an OpenSet.

    digits, val_digits: uint8 MNIST images (training and held-out), converted by
    `prepare(batch, out)` as in fit(). `detectors` detectors learn from `examples` training
    digits (as MNIST drew them, drawn as canvas pictures, traced, at low resolution, by a
    wobbling hand; given their `labels`, some 1s flagged and 0s slashed) against non-digit
    pictures, all preprocessed as predict.py does (data.nondigits.detector_examples: cached
    per user; on_prepare(n) hears when n pictures must be made first), and are averaged into
    one. Given the digits' `labels`, `outlier_networks` outlier networks, from different
    seeds, are trained on the same pictures and `more` (MNIST images, labels) too
    (fit_outlier_network). The threshold accepts ACCEPT of the held-out digits in each of the
    CALIBRATION styles, preprocessed the same way.
    """
    from ..data.nondigits import calibration_examples, detector_examples
    positives, negatives = detector_examples(digits, examples, on_prepare=on_prepare, labels=labels)
    nets = ()
    if labels is not None:      # (seeds 1000 apart: the first is the run's own, the others no run's)
        nets = tuple(fit_outlier_network(positives, labels[:len(positives)], negatives, prepare,
                                         more=more, seed=seed + 1000 * k, epochs=outlier_epochs)
                     for k in range(outlier_networks))

    def features_of(images, out=None):
        return in_chunks(lambda x: features(model, x, pixels=PIXELS, shape=SHAPE), images, prepare, model.input_shape,
                         out=out)

    # train.py's memory peak: the pictures are read from the cache a chunk at a time, and the
    # features kept as float16 (35,000 x 339 of them for the fast network: 24 MB, not 47),
    # standardised in place a chunk at a time (float16 keeps 3 digits: a detector's inputs)
    F = features_of(positives[:1]).shape[1]
    n, N = len(positives), len(positives) + len(negatives)
    feats = np.empty((N, F), np.float16)
    targets = np.r_[np.ones(n, np.int64), np.zeros(len(negatives), np.int64)]
    features_of(positives, out=feats[:n])
    features_of(negatives, out=feats[n:])
    del positives, negatives
    chunks = [slice(i, i + 4096) for i in range(0, N, 4096)]
    mean = sum(feats[c].sum(axis=0, dtype=np.float64) for c in chunks) / N
    std = np.sqrt(sum(((feats[c] - mean) ** 2).sum(axis=0) for c in chunks) / N) + 1e-6
    for c in chunks:
        feats[c] = (feats[c] - mean) / std
    trained = []
    for k in range(detectors):
        rng = np.random.default_rng([seed, 13, k])
        detector = Sequential([Dense(F, HIDDEN, rng=rng), ReLU(),
                               Dense(HIDDEN, 2, init="glorot_uniform", rng=rng)], input_shape=(F,))
        fit(detector, (feats, targets), epochs=20, batch_size=128, lr=0.02, seed=seed * DETECTORS + k,
            schedule=cosine_decay)
        trained.append(detector)
    openset = OpenSet(mean.astype(np.float32), std.astype(np.float32), average(trained), 0.0,
                      pixels=PIXELS, shape=SHAPE, nets=nets, shifts=True, views=True)
    held_out = calibration_examples(val_digits, CALIBRATION, on_prepare=on_prepare)

    def on_held_out(fn):
        return {style: in_chunks(fn, held_out[style], prepare, model.input_shape) for style in CALIBRATION}
    scores = on_held_out(lambda x: openset.detector_log_odds(model, x)[0])
    if nets:       # the two log-odds in units of their spread over held-out digits
        more_scores = on_held_out(openset.outlier_log_odds)
        openset.scales = (float(np.std(np.concatenate(list(scores.values())))),
                          float(np.std(np.concatenate(list(more_scores.values())))))
        scores = {s: scores[s] / openset.scales[0] + more_scores[s] / openset.scales[1] for s in CALIBRATION}
    for style in CALIBRATION:   # scored as predict.py scores them: a thinned digit by its two views
        drawn = np.asarray(held_out[style + " as drawn"])
        thinned = np.flatnonzero((drawn != np.asarray(held_out[style])).any(axis=(1, 2)))
        if len(thinned):
            scores[style][thinned] = (scores[style][thinned] + in_chunks(
                lambda x: openset.scores(model, x), drawn[thinned], prepare, model.input_shape)) / 2
    openset.threshold = float(min(np.quantile(scores[s], 1 - ACCEPT) for s in CALIBRATION))
    return openset
