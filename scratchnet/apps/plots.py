"""The report's pictures. Each function writes one PNG atomically.

Matplotlib's object-oriented API only (matplotlib.figure.Figure, rendered by the Agg canvas):
no pyplot, so importing or calling this never changes anyone's plotting back end, opens no
window and keeps no global figure list.
"""
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..fileio import atomic_write


def _save(fig, path):
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")


def confusion_matrix_png(cm, path, title="Confusion matrix (test set)"):
    """Annotated counts; the diagonal (correct) and the errors use separate colour scales."""
    k = len(cm)
    errors = cm.astype(float).copy()
    np.fill_diagonal(errors, np.nan)
    fig = Figure(figsize=(7.5, 6.5))
    ax = fig.subplots()
    im = ax.imshow(errors, cmap="Reds", vmin=0, vmax=max(1, np.nanmax(errors)))
    for i in range(k):
        for j in range(k):
            if i == j:
                ax.add_patch(Rectangle((j - .5, i - .5), 1, 1, color="#d9ead3"))
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if i != j and cm[i, j] > 0.6 * np.nanmax(errors) else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title + "\ngreen: correct; red: errors (darker = more)")
    fig.colorbar(im, ax=ax, label="errors")
    _save(fig, path)


def _mosaic(tiles, cols, gap=1):
    """Tiles (n, h, w) laid out `cols` to a row with `gap` NaN pixels between them (drawn as
    background): one image for one Axes, far faster to render than an Axes per tile.
    Returns the image and the (x, y) pixel centre of each tile's bottom edge."""
    n, h, w = tiles.shape
    rows = max(1, -(-n // cols))
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    anchors = []
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + gap), c * (w + gap)
        out[y:y + h, x:x + w] = tiles[i]
        anchors.append((x + (w - 1) / 2, y + h - 0.5))
    return out, anchors


def _show_mosaic(ax, image, cmap, vmin, vmax):
    """Coloured here, as 8-bit RGBA at the mosaic's own size: given the values, matplotlib
    colours the mosaic after scaling it to the figure's pixels, in float64 arrays, which raised
    train.py's peak memory by 7 MB (measured)."""
    import matplotlib
    cm = matplotlib.colormaps[cmap].copy()
    cm.set_bad("white")                                      # the NaN gaps between tiles
    ax.imshow(cm((image - vmin) / ((vmax - vmin) or 1), bytes=True), interpolation="nearest")
    ax.axis("off")


def misclassified_png(images, y_true, y_pred, confidence, path, title=None):
    """A grid of the given images, each captioned 'true 4 -> 9 (0.97)'."""
    n, cols = len(images), 8
    rows = max(1, -(-n // cols))
    gap = 12                                       # room for the two-line captions
    fig = Figure(figsize=(cols * 1.35, rows * 1.6))
    ax = fig.subplots()
    if n == 0:
        ax.axis("off")
    else:
        mosaic, anchors = _mosaic(np.asarray(images, dtype=float), cols, gap)
        _show_mosaic(ax, mosaic, "gray_r", vmin=0, vmax=255)
        for i, (x, y) in enumerate(anchors):
            ax.text(x, y + 1, f"true {y_true[i]} → {y_pred[i]}\n({confidence[i]:.2f})", ha="center",
                    va="top", fontsize=8, color="#b00")
    fig.suptitle(title or "Most confident mistakes on the test set", fontsize=11)
    _save(fig, path)


def training_curves_png(history, path):
    """Loss and accuracy per epoch, training vs validation."""
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 3.8))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, label, style in (("train", "training", "o-"), ("val", "validation", "s--")):
        if all(f"{key}_loss" in h for h in history):
            ax_loss.plot(epochs, [h[f"{key}_loss"] for h in history], style, label=label)
            ax_acc.plot(epochs, [100 * h[f"{key}_accuracy"] for h in history], style, label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_xticks(epochs)
    _save(fig, path)


def explanation_png(original, seen, expl, path):
    """One figure a newcomer can read: the picture, what the network saw, where it looked,
    which pixels mattered, and how sure it was."""
    c = expl.target
    fig = Figure(figsize=(17, 3.9))
    axes = fig.subplots(1, 5, gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.3]})
    panels = [
        (original, "gray", "1. Your image", "as loaded"),
        (seen, "gray", "2. What the network saw", "28×28, centred like MNIST"),
        (None, None, "3. Where it looked (Grad-CAM)",
         f"red = regions whose features\nraised the score of “{c}” most"),
        (expl.saliency, "hot", "4. Which pixels mattered",
         f"bright = changing this pixel\nchanges the score of “{c}” most"),
    ]
    for ax, (img, cmap, title, caption) in zip(axes, panels):
        if img is None:
            ax.imshow(seen, cmap="gray", vmin=0, vmax=1)
            heat = _smooth(expl.gradcam)   # smoothed for display (1-px Gaussian)
            heat = heat / heat.max() if heat.max() > 0 else heat
            ax.imshow(heat, cmap="jet", alpha=0.25 + 0.6 * heat, vmin=0, vmax=1)
        else:
            ax.imshow(img, cmap=cmap, vmin=0, vmax=1 if cmap != "gray" or img.max() <= 1 else 255)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(caption, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = axes[4]
    colors = ["#c0392b" if d == c else "#95a5a6" for d in range(10)]
    ax.bar(range(10), expl.probabilities, color=colors)
    ax.set_xticks(range(10))
    ax.set_ylim(0, 1.05)
    ax.set_title(f"5. How sure: “{c}” with {expl.probabilities[c]:.1%}", fontsize=11)
    ax.set_xlabel("digit", fontsize=9)
    ax.set_ylabel("probability", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def filters_png(W, path, title="The 32 learned 3×3 filters of the conv layer"):
    """W: (F, 1, KH, KW) -> a grid of filters, blue negative, red positive weights."""
    F, cols = W.shape[0], 8
    rows = -(-F // cols)
    fig = Figure(figsize=(cols * 1.1, rows * 1.2))
    ax = fig.subplots()
    lim = np.abs(W).max()
    mosaic, anchors = _mosaic(W[:, 0], cols, gap=1)
    _show_mosaic(ax, mosaic, "bwr", vmin=-lim, vmax=lim)
    for f, (x, y) in enumerate(anchors):
        ax.text(x, y - W.shape[2] - 0.05, str(f), ha="center", va="bottom", fontsize=8)
    fig.suptitle(title + "\n(red: positive weight, blue: negative)", fontsize=10)
    _save(fig, path)


def feature_maps_png(digit, maps, path, title="What each filter responds to in one test digit"):
    """digit (28, 28), maps (F, OH, OW) post-ReLU -> the digit and the F feature maps, each map
    scaled to its own maximum."""
    F, cols = maps.shape[0], 8
    rows = -(-F // cols)
    fig = Figure(figsize=(cols * 1.1 + 1.6, rows * 1.25))
    ax_in, ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, cols * 1.1]})
    ax_in.imshow(digit, cmap="gray")
    ax_in.set_title("input", fontsize=8)
    ax_in.axis("off")
    top = maps.reshape(F, -1).max(axis=1)[:, None, None]
    scaled = np.divide(maps, top, out=np.zeros(maps.shape), where=top > 0)
    mosaic, anchors = _mosaic(scaled, cols, gap=6)
    _show_mosaic(ax, mosaic, "viridis", vmin=0, vmax=1)
    for f, (x, y) in enumerate(anchors):
        ax.text(x, y - maps.shape[1], str(f), ha="center", va="bottom", fontsize=7)
    fig.suptitle(title + " (after ReLU; bright = strong response)", fontsize=10)
    _save(fig, path)


def errors_per_class_png(rows, path, title):
    """Grouped bars: test errors per true digit for each model in `rows`
    ([{"model", "test_accuracy", "parameters", "errors_per_class"}, ...])."""
    fig = Figure(figsize=(9, 3.8))
    ax = fig.subplots()
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        ax.bar(np.arange(10) + (i - (len(rows) - 1) / 2) * width, r["errors_per_class"], width,
               label=f"{r['model']}: {r['test_accuracy']:.2%}, {r['parameters']:,} params")
    ax.set_xticks(range(10))
    ax.set_xlabel("true digit")
    ax.set_ylabel("test errors (of ~1,000)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def _smooth(a, sigma=1.0):
    """Separable Gaussian blur of a small 2-D map (edges repeated)."""
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(a, r, mode="edge")
    p = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 0, p)
    return np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 1, p)
