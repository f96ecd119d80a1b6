import os
import shutil
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
    real MNIST images (~98%), then its 'not a digit' detector and outlier network
    (apps/openset.py) from a third of train.py's pictures (drawing them is most of a first
    session's time), the latter fine-tuned for 3 epochs with fewer more MNIST digits."""
    from scratchnet import mnist_cnn
    from scratchnet.apps.openset import fit_open_set
    from scratchnet.core.training import fit
    from scratchnet.data.mnist import to_input
    model = mnist_cnn(seed=0)
    train, val = mnist.train_images[:54000], mnist.train_images[54000:]
    fit(model, (train[:50000], mnist.train_labels[:50000]), epochs=2, seed=0, prepare=to_input)
    # its threshold set on the last 1,000 training digits, as a short train.py try's (the same cached pictures)
    openset = fit_open_set(model, train, val[-1000:], to_input, seed=0, examples=3000,
                           labels=mnist.train_labels[:54000],
                           more=(train[9000:15000], mnist.train_labels[9000:15000]), outlier_epochs=3)
    path = tmp_path_factory.mktemp("model") / "mnist_cnn.npz"
    model.save(path, metadata={"openset": openset.save_into(model)})
    return path


# --- a real browser, for the page's tests (test_browser.py, test_web.py)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = ("the browser test needs Chromium and ChromeDriver "
           "(Debian/Ubuntu: apt-get install chromium chromium-driver)")


def browser_required():
    return (os.environ.get("CI", "").lower() in ("1", "true", "yes")
            or os.environ.get("SCRATCHNET_REQUIRE_BROWSER") == "1")


def chromium(window="1200,800", phone=None):
    """Headless Chromium driven by Selenium, with no network of its own (skipped with the line
    that installs it where it is missing; a failure where the browser is required). phone:
    Chromium's mobile emulation, e.g. {"width": 390, "height": 844, "pixelRatio": 3, "touch": True}."""
    if not (CHROMIUM and CHROMEDRIVER):
        if browser_required():
            pytest.fail(MISSING + "; required here because CI or SCRATCHNET_REQUIRE_BROWSER is set")
        pytest.skip(MISSING)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic"):
        options.add_argument(flag)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": phone})
    else:
        options.add_argument(f"--window-size={window}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="session")   # session scope: checked before the session's model is trained
def browser():
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture
def phone():
    """Chromium as a phone: 390x844, touch events."""
    driver = chromium(phone={"width": 390, "height": 844, "pixelRatio": 3, "touch": True})
    yield driver
    driver.quit()
