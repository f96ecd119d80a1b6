"""The networks: the reference CNN of the original Keras project, an MLP baseline, and the
fast recipe's two-conv CNN."""
import numpy as np

from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from .model import Sequential


def mnist_cnn(seed=0, dtype=np.float32):
    """The reference network: 542,230 parameters, initialised as the original Keras model:
    He-uniform kernels for the ReLU layers, Keras' default Glorot-uniform for the softmax layer,
    zero biases.

    (N,1,28,28) -Conv 32@3x3-> (N,32,26,26) -ReLU-> -MaxPool 2-> (N,32,13,13) -Flatten->
    (N,5408) -Dense-> (N,100) -ReLU-> -Dense-> (N,10) logits (softmax lives in the loss).
    """
    rng = np.random.default_rng(seed)
    return Sequential([
        Conv2D(1, 32, 3, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2D(2, 2),
        Flatten(),
        Dense(32 * 13 * 13, 100, rng=rng, dtype=dtype),  # 5408 = 32 channels x 13 x 13 pooled
        ReLU(),
        Dense(100, 10, init="glorot_uniform", rng=rng, dtype=dtype),
    ], input_shape=(1, 28, 28))


def mnist_mlp(seed=0, dtype=np.float32):
    """The fully connected baseline: 784 -> 100 ReLU -> 10 (79,510 parameters), same init."""
    rng = np.random.default_rng(seed)
    return Sequential([
        Flatten(),
        Dense(28 * 28, 100, rng=rng, dtype=dtype),
        ReLU(),
        Dense(100, 10, init="glorot_uniform", rng=rng, dtype=dtype),
    ], input_shape=(1, 28, 28))


def mnist_fast_cnn(seed=0, dtype=np.float32):
    """The fast recipe's network (train.py --recipe fast), tuomaso/train_mnist_fast's shape:
    two conv blocks learn more per image than one, so one epoch reaches 99%. 215,194 parameters.

    (N,1,28,28) -Conv 24@5x5-> (N,24,24,24) -ReLU-> -MaxPool 2-> (N,24,12,12)
    -Conv 32@3x3-> (N,32,10,10) -ReLU-> -MaxPool 2-> (N,32,5,5) -Flatten-> (N,800)
    -Dense-> (N,256) -ReLU-> -Dense-> (N,10) logits.
    """
    rng = np.random.default_rng(seed)
    return Sequential([
        Conv2D(1, 24, 5, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2D(2, 2),
        Conv2D(24, 32, 3, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2D(2, 2),
        Flatten(),
        Dense(32 * 5 * 5, 256, rng=rng, dtype=dtype),
        ReLU(),
        Dense(256, 10, init="glorot_uniform", rng=rng, dtype=dtype),
    ], input_shape=(1, 28, 28))


ARCHITECTURES = {"cnn": mnist_cnn, "mlp": mnist_mlp, "fast": mnist_fast_cnn}
