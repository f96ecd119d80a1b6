"""Classification metrics from labels and predictions (plain NumPy)."""
import time

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes=10):
    """(K, K) counts: row = true class, column = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def per_class_scores(cm):
    """Per class: precision = TP / predicted, recall = TP / actual, F1, support (actual count)."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return [{"class": k, "precision": float(precision[k]), "recall": float(recall[k]),
             "f1": float(f1[k]), "support": int(actual[k])} for k in range(len(cm))]


def most_confused_pairs(cm, top=5):
    """The unordered pairs {a, b} with the most errors either way: [(a, b, a->b, b->a), ...]."""
    pairs = []
    for a in range(len(cm)):
        for b in range(a + 1, len(cm)):
            if cm[a, b] + cm[b, a] > 0:
                pairs.append((a, b, int(cm[a, b]), int(cm[b, a])))
    pairs.sort(key=lambda p: (-(p[2] + p[3]), p[0], p[1]))
    return pairs[:top]


AS_IS = ((0, 0),)


def timed_evaluation(model, test_images, test_labels, shifts=AS_IS):
    """(loss, accuracy, probabilities, seconds, accuracy of the pictures as they are) of `model`
    on uint8 test images (MNIST's). With shifts (one-pixel moves, rows and columns, the first
    (0, 0): openset.SHIFTS), each picture's probabilities are their mean over its copies moved
    so (shift-only test-time augmentation): the accuracy is that mean's, the loss its
    cross-entropy."""
    from ..core.training import evaluate
    from ..data.mnist import to_input
    from .openset import shifted
    start = time.perf_counter()
    loss, accuracy, probs = evaluate(model, test_images, test_labels, prepare=to_input)
    as_is = accuracy
    if len(shifts) > 1:
        for dy, dx in shifts[1:]:
            copies = shifted(test_images[:, None], [(dy, dx)])[:, 0]
            probs += evaluate(model, copies, test_labels, prepare=to_input)[2]
        probs /= len(shifts)
        right = probs[np.arange(len(test_labels)), test_labels]
        loss = float(-np.log(np.maximum(right, np.finfo(np.float32).tiny)).mean())
        accuracy = float((probs.argmax(axis=1) == test_labels).mean())
    return loss, accuracy, probs, time.perf_counter() - start, as_is
