"""Softmax and categorical cross-entropy, numerically stable.

logits: (N, 10) raw scores, labels: (N,) integer classes.
"""
import numpy as np


def log_softmax(logits):
    """log p = z - logsumexp(z), computed after shifting by max(z) so exp never overflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """(N, M) logits -> (N, M) probabilities; rows sum to 1."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    logits: (N, M), labels: (N,) ints in [0, M)  ->  (loss: float, dlogits: (N, M))
    L = -1/N * sum_n log p[n, y_n];   dL/dz = (p - onehot(y)) / N
    """
    N = logits.shape[0]
    logp = log_softmax(logits)
    rows = np.arange(N)
    loss = -logp[rows, labels].mean()
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1
    dlogits /= N
    return float(loss), dlogits
