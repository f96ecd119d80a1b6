import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder with the real MNIST files: $SCRATCHNET_DATA, else ../shared/data/mnist,
    else the per-user cache (downloading into it, on a machine with internet)."""
    from scratchnet.data import default_data_dir, load_mnist
    env = os.environ.get("SCRATCHNET_DATA")
    folder = Path(env) if env else SHARED_MNIST if SHARED_MNIST.is_dir() else default_data_dir()
    load_mnist(folder, progress=False)  # fails loudly (never skips) if the data cannot be had
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from scratchnet.data import load_mnist
    return load_mnist(mnist_dir, progress=False)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory, mnist):
    """A model trained for the tests: 2 epochs on 50,000 real MNIST images (~98%)."""
    from scratchnet import mnist_cnn
    from scratchnet.training import fit
    model = mnist_cnn(seed=0)
    fit(model, (mnist.train_images[:50000], mnist.train_labels[:50000]), epochs=2, seed=0)
    path = tmp_path_factory.mktemp("model") / "mnist_cnn.npz"
    model.save(path)
    return path
