"""The evaluation report: metrics.json, three pictures and report.md in one folder.

metrics.json keys (top level):
    test_accuracy (fraction), test_loss, history (one record per epoch: epoch, train_loss,
    train_accuracy, val_loss, val_accuracy, seconds, images_per_second), per_class
    (precision/recall/f1/support), confusion_matrix (10x10, rows = true digit),
    most_confused (pairs), test_shifts (the moves a picture's probabilities are averaged over,
    or null) and test_accuracy_as_is (the pictures unmoved), timings, config, seed, versions,
    command, created.
"""
import json
import time
from pathlib import Path

import numpy as np

from ..core.layers import Conv2D
from ..data.mnist import to_input
from ..fileio import atomic_write
from ..sysinfo import machine, versions
from .explain import conv_feature_maps
from .openset import ACCEPT, in_chunks
from .metrics import AS_IS, confusion_matrix, most_confused_pairs, per_class_scores, timed_evaluation


def write_report(model, test_images, test_labels, out_dir, history=(), info=None, n_mistakes=32,
                 command=None, openset=None, evaluation=None, shifts=AS_IS):
    """Evaluate `model` on the uint8 test images and write the report files into `out_dir`;
    return the metrics dict. `command` (the command line, as a string) is recorded; with an
    `openset` (apps/openset.py) the report says how it does (an "open set" section).
    `evaluation`, if the caller has already made it: timed_evaluation's result for this model,
    these images and `shifts`, used instead of evaluating again."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    test_loss, test_acc, probs, eval_seconds, as_is = (evaluation or
                                                       timed_evaluation(model, test_images, test_labels, shifts))
    pred = probs.argmax(axis=1)
    cm = confusion_matrix(test_labels, pred)
    confused = most_confused_pairs(cm)
    info = dict(info or {})
    metrics = {
        "test_accuracy": test_acc, "test_loss": test_loss, "test_images": int(len(test_labels)),
        "test_errors": int((pred != test_labels).sum()),
        "test_shifts": [list(s) for s in shifts] if len(shifts) > 1 else None,   # (as `evaluation` was made)
        "test_accuracy_as_is": as_is,
        "history": list(history),
        "per_class": per_class_scores(cm), "confusion_matrix": cm.tolist(),
        "most_confused": [{"pair": [a, b], "a_as_b": ab, "b_as_a": ba} for a, b, ab, ba in confused],
        "timings": {"evaluation_seconds": eval_seconds,
                    "inference_images_per_second": len(test_labels) / eval_seconds,
                    **info.pop("timings", {})},
        "versions": versions(), "machine": machine(),
        "command": command,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **info,
    }
    if openset is not None:
        metrics["open_set"] = open_set_figures(model, openset, test_images)
    model.release_buffers()   # the evaluation batches' ~17 MB, not held while plotting
    from . import plots       # matplotlib (~27 MB) only now, not beside the detector's batches
    with atomic_write(out_dir / "metrics.json", "w") as f:
        json.dump(metrics, f, indent=2)

    plots.confusion_matrix_png(cm, out_dir / "confusion_matrix.png",
                               title=f"Confusion matrix: {test_acc:.2%} of {len(test_labels):,} test digits")
    wrong = np.flatnonzero(pred != test_labels)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:n_mistakes]
    plots.misclassified_png(test_images[wrong], test_labels[wrong], pred[wrong],
                            probs[wrong, pred[wrong]], out_dir / "misclassified.png",
                            title=f"The {len(wrong)} most confident mistakes "
                                  f"(of {len(np.flatnonzero(pred != test_labels))})")
    if history:
        plots.training_curves_png(history, out_dir / "training_curves.png")
    has_conv = write_learning_snapshot(model, test_images[0], out_dir)
    with atomic_write(out_dir / "report.md", "w") as f:
        f.write(_markdown(metrics, bool(history), has_conv))
    return metrics


def write_learning_snapshot(model, digit, out_dir, suffix=""):
    """filters{suffix}.png and feature_maps{suffix}.png for a model whose first layer is a
    Conv2D on one input channel; returns whether it wrote them."""
    first = model.layers[0] if model.layers else None
    if not isinstance(first, Conv2D) or first.in_channels != 1:
        return False
    from . import plots
    plots.filters_png(first.params["W"], Path(out_dir) / f"filters{suffix}.png")
    plots.feature_maps_png(digit, conv_feature_maps(model, digit / 255.0),
                           Path(out_dir) / f"feature_maps{suffix}.png")
    return True


def open_set_figures(model, openset, test_images, nondigits=300):
    """How the 'not a digit' detector does: the share of test digits it accepts, and the share
    of non-digit pictures it refuses, drawn with seeds its training never used."""
    from ..data.nondigits import make_nondigits, mean_per_family

    def scores(images):
        return in_chunks(lambda x: openset.scores(model, x), images, to_input, model.input_shape)
    accepted = scores(test_images) >= openset.threshold
    refused = scores(make_nondigits(nondigits, seed=2718)) < openset.threshold
    per_family = mean_per_family(refused)
    return {"threshold": openset.threshold, "test_digits_accepted": float(accepted.mean()),
            "nondigits_refused": float(refused.mean()), "nondigits": nondigits,
            "nondigits_refused_per_family": per_family, "outlier_network": bool(openset.nets)}


def _markdown(m, has_curves, has_conv=False):
    lines = [
        "# scratchnet evaluation report", "",
        f"- **Test accuracy: {m['test_accuracy']:.2%}** ({m['test_errors']} errors in "
        f"{m['test_images']:,} test images), test loss {m['test_loss']:.4f}" + (
            f"; each picture's probabilities averaged over it and {len(m['test_shifts']) - 1} copies "
            f"moved one pixel (the pictures as they are: {m['test_accuracy_as_is']:.2%})"
            if m.get("test_shifts") else ""),
        f"- Command: `{m['command']}`" if m["command"] else "- Command: (not recorded)",
        f"- Machine: {m['machine']['cpu']}, {m['machine']['cores']} cores; created {m['created']}",
    ]
    if m["history"]:
        total = sum(h["seconds"] for h in m["history"])
        lines.append(f"- Training: {len(m['history'])} epochs, {total:.1f} s of training steps "
                     f"({total / len(m['history']):.1f} s per epoch)")
    if "open_set" in m:
        o = m["open_set"]
        lines += ["", "## Open set: \"not a digit\"", "",
                  f"The detector{' with the outlier networks' if o.get('outlier_network') else ''} "
                  f"(apps/openset.py) accepts **{o['test_digits_accepted']:.2%}** of the "
                  f"test digits and refuses **{o['nondigits_refused']:.2%}** of {o['nondigits']} non-digit "
                  f"pictures drawn with seeds its training never used (threshold {o['threshold']:.3f}, "
                  f"set to accept {ACCEPT:.1%} of the validation digits). Refused per kind: " +
                  ", ".join(f"{k} {v:.0%}" for k, v in o["nondigits_refused_per_family"].items()) + ".",
                  "", "`benchmarks/bench_openset.py` measures it on Fashion-MNIST and on non-digits from "
                  "another generator."]
    lines += ["", "## Most confused pairs", "", "| pair | a → b | b → a | total |", "|---|---|---|---|"]
    for p in m["most_confused"]:
        a, b = p["pair"]
        lines.append(f"| {a} ↔ {b} | {p['a_as_b']} ({a} read as {b}) | {p['b_as_a']} ({b} read as {a}) "
                     f"| {p['a_as_b'] + p['b_as_a']} |")
    lines += ["", "## Per-class scores", "", "| digit | precision | recall | F1 | support |",
              "|---|---|---|---|---|"]
    for c in m["per_class"]:
        lines.append(f"| {c['class']} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} "
                     f"| {c['support']} |")
    worst = min(m["per_class"], key=lambda c: c["recall"])
    lines += ["", f"The hardest digit to recognise is **{worst['class']}** "
                  f"(recall {worst['recall']:.2%}).", "", "## Pictures", "",
              "![confusion matrix](confusion_matrix.png)", "",
              "Rows are the true digit, columns the prediction; off-diagonal cells count mistakes.", "",
              "![misclassified](misclassified.png)", "",
              "The test digits the model got wrong while most sure of itself: many are ambiguous "
              "or mislabelled even to a person.", ""]
    if has_curves:
        lines += ["![training curves](training_curves.png)", "",
                  "Training vs validation loss and accuracy per epoch: a widening gap means "
                  "over-fitting.", ""]
    if has_conv:
        lines += ["![filters](filters.png)", "",
                  "The 32 learned 3×3 filters: edge and stroke detectors of different orientations.", "",
                  "![feature maps](feature_maps.png)", "",
                  "Each filter's response to one test digit: which strokes and edges it picks out.", ""]
    return "\n".join(lines)
