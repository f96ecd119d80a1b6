"""The framework a learner reads: everything backpropagation needs, and nothing else.

    kernels/   reference.py (plain NumPy, the version to read) and jit.py (its Numba twin)
    layers.py  Conv2D, MaxPool2D, Flatten, Dense, ReLU: forward and hand-written backward
    fused.py   Conv2D -> ReLU -> MaxPool2D as one block (what training actually runs)
    losses.py  softmax and cross-entropy with its gradient
    optim.py   SGD with momentum
    model.py   Sequential and the model file
    networks.py the reference CNN and the MLP baseline
    training.py the training loop and evaluation
    gradcheck.py the float64 finite-difference checker that proves every backward pass

Nothing here knows about MNIST files, images or the applications: the core imports only
NumPy, Numba (through kernels.jit) and scratchnet's errors and atomic file writes
(tests/test_layout.py enforces it).
"""
