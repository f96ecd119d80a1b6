import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"

# The developers' checkout has the MNIST files beside it; elsewhere $SCRATCHNET_DATA or the
# per-user cache (downloading into it) is used, as by train.py (scratchnet.data.mnist).
if SHARED_MNIST.is_dir():
    os.environ.setdefault("SCRATCHNET_DATA", str(SHARED_MNIST))


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder with the real MNIST files (downloaded there first if need be)."""
    from scratchnet.data.mnist import load_mnist, resolve_data_dir
    folder = resolve_data_dir()
    load_mnist(folder, progress=False)  # fails loudly (never skips) if the data cannot be had
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from scratchnet.data.mnist import load_mnist
    return load_mnist(mnist_dir, progress=False)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory, mnist):
    """A model trained for the tests as train.py trains one, but shorter: 2 epochs on 50,000
    real MNIST images (~98%), then its 'not a digit' detector (apps/openset.py)."""
    from scratchnet import mnist_cnn
    from scratchnet.apps.openset import fit_open_set
    from scratchnet.core.training import fit
    from scratchnet.data.mnist import to_input
    model = mnist_cnn(seed=0)
    train, val = mnist.train_images[:54000], mnist.train_images[54000:]
    fit(model, (train[:50000], mnist.train_labels[:50000]), epochs=2, seed=0, prepare=to_input)
    openset = fit_open_set(model, train, val, to_input, seed=0)
    path = tmp_path_factory.mktemp("model") / "mnist_cnn.npz"
    model.save(path, metadata={"openset": openset.save_into(model)})
    return path
