"""The report's pictures (matplotlib, headless). Each function writes one PNG atomically."""
import numpy as np

from .fileio import atomic_write


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # no display needed, and never pops up a window
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    plt = _pyplot()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def confusion_matrix_png(cm, path, title="Confusion matrix (test set)"):
    """Annotated counts; the diagonal (correct) and the errors use separate colour scales."""
    plt = _pyplot()
    k = len(cm)
    errors = cm.astype(float).copy()
    np.fill_diagonal(errors, np.nan)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(errors, cmap="Reds", vmin=0, vmax=max(1, np.nanmax(errors)))
    for i in range(k):
        for j in range(k):
            if i == j:
                ax.add_patch(plt.Rectangle((j - .5, i - .5), 1, 1, color="#d9ead3"))
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if i != j and cm[i, j] > 0.6 * np.nanmax(errors) else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title + "\ngreen: correct; red: errors (darker = more)")
    fig.colorbar(im, ax=ax, label="errors")
    _save(fig, path)


def misclassified_png(images, y_true, y_pred, confidence, path, title=None):
    """A grid of the given images, each captioned 'true 4 -> pred 9 (0.97)'."""
    plt = _pyplot()
    n = len(images)
    cols = 8
    rows = max(1, (n + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.35, rows * 1.6))
    for ax in np.ravel(axes):
        ax.axis("off")
    for i, ax in enumerate(np.ravel(axes)[:n]):
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"true {y_true[i]} → {y_pred[i]}\n({confidence[i]:.2f})", fontsize=8,
                     color="#b00")
    fig.suptitle(title or "Most confident mistakes on the test set", fontsize=11)
    _save(fig, path)


def training_curves_png(history, path):
    """Loss and accuracy per epoch, training vs validation."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
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
