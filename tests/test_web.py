"""The demo as a static page (python -m scratchnet.export --web): the folder it writes, and in
headless Chromium, served by a plain static file server, the page's network, detector and
preprocessing against NumPy's and preprocess.py's."""
import base64
import functools
import http.server
import io
import json
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchnet.apps.inference import Prediction, Predictor
from scratchnet.core import kernels
from scratchnet.data.mnist import to_input
from scratchnet.data.preprocess import to_mnist, to_mnist_views
from test_browser import wait_for_state
from test_predict import pieces

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(model_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "scratchnet.export", "--web", str(folder), str(model_file)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return folder


def read_weights(path):
    blob = path.read_bytes()
    length = int.from_bytes(blob[:4], "little")
    header = json.loads(blob[4:4 + length])
    return header, blob[4 + length:]


def test_the_folder_holds_the_page_its_script_and_the_weights(site, model_file):
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "model.bin", "scratchnet.js"]
    header, data = read_weights(site / "model.bin")
    assert header["format"] == "scratchnet.web" and header["crc32"] == zlib.crc32(data)
    predictor = Predictor.load(model_file)
    assert header["threshold"] == predictor.openset.threshold
    arrays = {a["name"]: np.frombuffer(data, {"float32": "<f4", "int8": "i1"}[a["dtype"]], int(np.prod(a["shape"])),
                                       a["offset"]).reshape(a["shape"])
              for a in header["arrays"]}
    assert all(a["offset"] % 4 == 0 for a in header["arrays"])
    np.testing.assert_array_equal(arrays["4.W"], predictor.model.parameters()["4.W"])
    np.testing.assert_array_equal(arrays["openset.std"], predictor.openset.std)
    # the outlier networks: their large matrices as int8 and a scale a column, the very weights Python uses
    assert header["outlier_networks"] == len(predictor.openset.nets) == 2
    assert header["scales"] == list(predictor.openset.scales)
    for prefix, net in zip(("openset.net.", "openset.net1."), predictor.openset.nets):
        net = net.parameters()
        assert arrays[prefix + "7.W"].dtype == np.int8
        np.testing.assert_array_equal(arrays[prefix + "7.W"] * arrays[prefix + "7.W.scale"], net["7.W"])
        for name in ("0.W", "3.W", "9.W"):
            np.testing.assert_array_equal(arrays[prefix + name], net[name])
    assert sum(p.stat().st_size for p in site.iterdir()) <= 3 * 2 ** 20       # the whole page, float32


def test_the_outlier_network_votes_in_the_page_as_in_python(site, model_file):
    """model.bin's header says whether the page names the digit with the outlier network's
    vote: as Predictor.load decides, not for a file the demo fine-tuned on corrections."""
    from scratchnet.apps.web_export import weights_file
    from scratchnet.core.model import load_model
    header, _ = read_weights(site / "model.bin")
    assert header["vote"] is True and Predictor.load(model_file).vote
    model, meta = load_model(model_file, return_metadata=True)
    learned = weights_file(model, {**meta, "corrections": 3})
    size = int.from_bytes(learned[:4], "little")
    assert json.loads(learned[4:4 + size])["vote"] is False


def test_export_refuses_what_the_page_cannot_run(tmp_path, mnist):
    from scratchnet import mnist_mlp
    mnist_mlp().save(tmp_path / "mlp.npz")
    proc = subprocess.run([sys.executable, "-m", "scratchnet.export", "--web", str(tmp_path / "site"),
                           str(tmp_path / "mlp.npz")], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1 and "runs the reference CNN" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_export_refuses_an_outlier_network_the_page_cannot_run(model_file, tmp_path):
    """An outlier network of another shape (here the MLP with an eleventh output): one line."""
    from scratchnet import mnist_mlp
    from scratchnet.apps.openset import OpenSet
    from scratchnet.core.layers import Dense
    from scratchnet.core.model import load_model
    model, meta = load_model(model_file, return_metadata=True)
    openset = OpenSet.of(model, meta)
    net = mnist_mlp()
    net.layers[-1] = Dense(net.layers[-1].in_features, 11, rng=np.random.default_rng(1))
    model.extras = {k: v for k, v in model.extras.items() if not k.startswith("openset.net")}
    openset.nets = (net,)
    model.save(tmp_path / "odd.npz", metadata=dict(meta, openset=openset.save_into(model)))
    proc = subprocess.run([sys.executable, "-m", "scratchnet.export", "--web", str(tmp_path / "site"),
                           str(tmp_path / "odd.npz")], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1 and "outlier network of two conv blocks" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "site" / "model.bin").exists()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def static_url(site):
    """The folder served as GitHub Pages would: files only, no API."""
    yield from serve(site)


def serve(folder):
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def open_static(browser, url):
    browser.get(url)
    status = browser.execute_async_script(
        "const done = arguments[0], t0 = Date.now();"
        "(function wait() { if (window.scratchnet && scratchnet.ready) scratchnet.ready.then(() => done('ok'), "
        "e => done(String(e))); else if (Date.now() - t0 > 20000) done('no scratchnet.ready'); "
        "else setTimeout(wait, 20); })();")
    assert status == "ok"


def test_the_page_computes_numpys_probabilities(browser, static_url, model_file, mnist):
    open_static(browser, static_url)
    page_agrees_with_python(browser, Predictor.load(model_file), mnist.test_images[:500])


def test_the_page_computes_an_older_files_outlier_network(browser, model_file, mnist, tmp_path):
    """A file from before the two-block outlier network: its reference-shaped one in the page."""
    from test_openset import legacy_model_file
    legacy = legacy_model_file(model_file, tmp_path / "legacy.npz")
    proc = subprocess.run([sys.executable, "-m", "scratchnet.export", "--web", str(tmp_path / "site"), str(legacy)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for url in serve(tmp_path / "site"):
        open_static(browser, url)
        page_agrees_with_python(browser, Predictor.load(legacy), mnist.test_images[:100])


def page_agrees_with_python(browser, predictor, images):
    x = to_input(images)
    with kernels.using("reference"):       # (the answer: Predictor.classify's probabilities)
        scores, _, want = predictor.openset.answer(predictor.model, x, vote=predictor.vote)
    page = browser.execute_script(        # (the inputs as base64 float32 bytes, not a JSON list)
        "const s = atob(arguments[0]), b = new Uint8Array(s.length);"
        "for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);"
        "const x = new Float32Array(b.buffer), out = [];"
        "for (let k = 0; k < x.length / 784; k++) { const r = scratchnet.predict(x.slice(784 * k, 784 * (k + 1)));"
        "  out.push([r.probabilities, r.digitScore, r.isDigit, r.digit]); }"
        "return out;", base64.b64encode(x.astype("<f4").tobytes()).decode())
    probabilities = np.array([r[0] for r in page])
    print(f"largest difference of a probability: {np.abs(probabilities - want).max():.2e}")
    np.testing.assert_allclose(probabilities, want, rtol=0, atol=1e-5)
    top_two = np.sort(want, axis=1)[:, -2:]
    clear_top = top_two[:, 1] - top_two[:, 0] > 1e-4                       # (not a tie for first)
    assert [r[3] for r, c in zip(page, clear_top) if c] == list(want.argmax(axis=1)[clear_top])
    np.testing.assert_allclose([r[1] for r in page], scores, rtol=1e-4, atol=1e-4)
    clear = np.abs(scores - predictor.openset.threshold) > 1e-3           # (not a tie at the threshold)
    assert [r[2] for r, c in zip(page, clear) if c] == list(scores[clear] >= predictor.openset.threshold)


# strokes of the ten digits (offsets from the canvas centre), a drawing's worth of each
def digit_strokes(k, rng):
    t = np.linspace(0, 2 * np.pi, 24)
    arc = lambda a, b, n: np.linspace(a, b, n)  # noqa: E731
    shapes = {
        0: [np.c_[45 * np.sin(t), -70 * np.cos(t)]],
        1: [np.c_[[-10, 0, 0], [-60, -80, 80]]],
        2: [np.c_[-45 + 45 * (1 - np.cos(arc(0, np.pi, 10))), -40 - 40 * np.sin(arc(0, np.pi, 10))],
            np.c_[[45, -50, 55], [-40, 75, 75]]],
        3: [np.c_[40 * np.sin(arc(-2.5, 1.6, 12)), -40 - 35 * np.cos(arc(-2.5, 1.6, 12))],
            np.c_[45 * np.sin(arc(-1.6, 2.5, 12)), 35 - 40 * np.cos(arc(-1.6, 2.5, 12))]],
        4: [np.c_[[20, -50, 55], [-80, 30, 30]], np.c_[[25, 25], [-20, 85]]],
        5: [np.c_[[40, -35, -40], [-75, -75, -5]],
            np.c_[-30 + 48 * np.sin(arc(0, 3.3, 12)), 30 - 45 * np.cos(arc(0, 3.3, 12))]],
        6: [np.c_[[30, -30], [-80, -20]], np.c_[-25 + 35 * np.sin(arc(-1.5, 4.8, 16)), 35 - 40 * np.cos(arc(-1.5, 4.8, 16))]],
        7: [np.c_[[-50, 50, -10], [-75, -75, 85]]],
        8: [np.c_[35 * np.sin(2 * t), -76 * np.cos(t)]],
        9: [np.c_[35 * np.sin(t) + 5, -40 - 35 * np.cos(t)], np.c_[[40, 30], [-40, 85]]],
    }
    scale, shift = rng.uniform(0.6, 1.1), rng.uniform(-25, 25, 2)
    return [np.round(s * scale + shift + rng.normal(0, 2, s.shape)).astype(int) for s in shapes[k]]


def replay(browser, strokes, touch=False):
    """Draw strokes on the canvas through pointer events: a mouse, or a finger."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By
    canvas = browser.find_element(By.ID, "canvas")
    for stroke in strokes:
        actions = ActionBuilder(browser, mouse=PointerInput(interaction.POINTER_TOUCH if touch else
                                                            interaction.POINTER_MOUSE, "finger" if touch else "mouse"), duration=0)
        actions.pointer_action.move_to(canvas, *map(int, stroke[0])).pointer_down()
        for x, y in stroke[1:]:
            actions.pointer_action.move_to(canvas, int(x), int(y))
        actions.pointer_action.pointer_up()
        actions.perform()


def page_input_and_canvas(browser):
    """What the page makes of its canvas, and the canvas as a PNG (what predict.py would get)."""
    values, png = browser.execute_script(
        "const c = document.getElementById('canvas');"
        "return [Array.from(scratchnet.preprocess(c.getContext('2d').getImageData(0, 0, c.width, c.height))),"
        "        c.toDataURL('image/png').split(',')[1]];")
    return np.array(values, np.float32).reshape(28, 28), Image.open(io.BytesIO(base64.b64decode(png)))


def test_the_page_preprocesses_drawings_as_preprocess_py(browser, static_url, model_file):
    from selenium.webdriver.common.by import By
    open_static(browser, static_url)
    predictor = Predictor.load(model_file)
    rng = np.random.default_rng(0)
    close = []
    for n in range(30):
        browser.find_element(By.ID, "clear").click()
        replay(browser, digit_strokes(n % 10, rng), touch=n >= 20)     # 20 with a mouse, 10 by touch
        wait_for_state(browser, "answered")
        page, picture = page_input_and_canvas(browser)
        ours, as_drawn = to_mnist_views(picture)   # (a thinned drawing: named and scored by both views)
        close.append((np.abs(np.round(page * 255) - np.round(ours * 255)) <= 2).mean())
        [expected] = predictor.classify([Prediction("drawing", input=ours, as_drawn=None if as_drawn is ours else as_drawn)])
        shown = browser.find_element(By.ID, "digit").text
        assert shown == (str(expected.digit) if expected.is_digit else "?"), (n, shown, expected.digit)
    print(f"pixels within 2 grey levels of preprocess.py's: {np.mean(close):.4%} (worst drawing {min(close):.2%})")
    assert np.mean(close) >= 0.99


def on_page_as_grey(browser, script, grey):
    """Run `script` on the page with `p` (scratchnet.parts) and `grey`, the page's image of a
    (h, w) float32 grey picture (sent as base64: a JSON list of numbers is slow)."""
    return browser.execute_script(
        "const s = atob(arguments[0]), b = new Uint8Array(s.length);"
        "for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);"
        "const p = scratchnet.parts, grey = p.image(arguments[1], arguments[2], new Float32Array(b.buffer));"
        + script, base64.b64encode(np.asarray(grey, "<f4").tobytes()).decode(), *grey.shape)


def page_preprocess(browser, picture):
    """What the page's preprocessing makes of an uploaded picture (its pixels as base64: a JSON
    list of numbers is slow)."""
    rgba = np.asarray(picture.convert("RGBA"))
    values = browser.execute_script(
        "const s = atob(arguments[0]), a = new Uint8ClampedArray(s.length);"
        "for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);"
        "return Array.from(scratchnet.preprocess(new ImageData(a, arguments[1], arguments[2])));",
        base64.b64encode(rgba.tobytes()).decode(), picture.width, picture.height)
    return np.array(values, np.float32).reshape(28, 28)


def test_the_page_preprocesses_tightly_cropped_uploads_as_preprocess_py(browser, static_url, mnist):
    """Pictures that are not square and whose strokes touch the edge (the opening's window
    and what lies outside the picture are where a port goes wrong)."""
    from synthetic.drawstyles import cropped_to_ink
    open_static(browser, static_url)
    close = []
    from PIL import ImageFilter
    markers = [np.asarray(Image.fromarray(d).filter(ImageFilter.MaxFilter(5))) for d in mnist.test_images[12:18]]
    for digit in [*mnist.test_images[:12], *markers]:          # (markers: blobs wider than the window)
        picture = cropped_to_ink(digit, 112).convert("RGBA")
        page = page_preprocess(browser, picture)
        close.append((np.abs(np.round(page * 255) - np.round(to_mnist(picture) * 255)) <= 2).mean())
    assert min(close) >= 0.98, close


def test_the_page_reads_a_screenshot_as_preprocess_py(browser, static_url, mnist):
    """A canvas demo's screenshot (frame, page, title, buttons), and a paint program's with a
    1-px pencil's 8 on a 1280x720 canvas (a frame, or none on a light grey page): the page
    finds the same drawing area, and makes the same input of it."""
    from test_predict import paint_program
    from test_strokes import pencil_eight

    from synthetic.drawstyles import screenshot
    open_static(browser, static_url)
    rng = np.random.default_rng(4)
    close = []
    pencil = pencil_eight(1280, 720)
    pictures = [screenshot(digit, rng) for digit in mnist.test_images[:12]]
    for picture in pictures + [paint_program(pencil), paint_program(pencil, 240, 0)]:
        page = page_preprocess(browser, picture)
        close.append((np.abs(np.round(page * 255) - np.round(to_mnist(picture) * 255)) <= 2).mean())
    assert min(close) >= 0.98, close


def test_the_page_finds_the_drawing_area_of_preprocess_py(browser, static_url, mnist):
    """The same rectangle, to the pixel, in the same working-size grey pictures: screenshots,
    digits drawn up to their canvas's side, a button just below a canvas, and pictures with
    no canvas in them."""
    from test_predict import black_canvas_with_a_button, drawn_up_to_the_side, framed

    from scratchnet.data import preprocess
    from synthetic.drawstyles import screenshot
    open_static(browser, static_url)
    rng = np.random.default_rng(6)
    pictures = [screenshot(digit, rng) for digit in mnist.test_images[:10]]
    for digit in mnist.test_images[10:14]:
        touching = drawn_up_to_the_side(digit, rng)
        _, button = black_canvas_with_a_button(digit, rng)
        pictures += [framed(touching, 200, margin=(40, 60, 80, 90)), button, touching,
                     framed(touching, 250, 2, 0, (40, 60, 80, 90))]       # (a frame on its own shade: none)
    found = []
    for picture in pictures:
        grey = preprocess._shrink(preprocess.to_grey(picture), preprocess.WORK_SIZE).astype("<f4")
        ours = preprocess.drawing_area(grey)
        page = on_page_as_grey(browser, "return p.drawingArea(grey);", grey)
        assert page == (None if ours is None else [int(v) for v in ours])
        found.append(ours is not None)
    assert sum(found) == 10 + 4 * 2, found


def test_the_page_shrinks_a_picture_as_preprocess_py(browser, static_url):
    """Step 2's area average, pixel for pixel: pictures wider or taller than the working
    size at scales that are and are not whole factors."""
    from scratchnet.data import preprocess
    open_static(browser, static_url)
    rng = np.random.default_rng(8)
    for h, w in ((238, 238), (300, 171), (170, 421), (640, 320), (1001, 999)):
        grey = rng.random((h, w), dtype=np.float32)
        ours = preprocess._shrink(grey, preprocess.WORK_SIZE)
        page = on_page_as_grey(browser, "const out = p.shrink(grey, 160); return [out.h, out.w, Array.from(out.d)];",
                               grey)
        assert page[:2] == list(ours.shape)
        np.testing.assert_allclose(np.array(page[2], np.float32).reshape(ours.shape), ours, rtol=0, atol=1e-6)


def test_the_page_keeps_a_pens_dots_as_preprocess_py(browser, static_url):
    """Handwritten ! ? and umlauts: their dots are small beside the strokes, and kept."""
    from synthetic.drawstyles import DEJAVU, handwritten
    open_static(browser, static_url)
    rng = np.random.default_rng(3)
    pictures = [handwritten(c, DEJAVU / "DejaVuSans.ttf", rng) for c in "!?äöü!?ÄÖÜ"]
    outputs = [to_mnist(p) for p in pictures]
    assert sum(pieces(o) > 1 for o in outputs) >= 8
    for picture, ours in zip(pictures, outputs):
        page = page_preprocess(browser, picture)
        assert (np.abs(np.round(page * 255) - np.round(ours * 255)) <= 2).mean() >= 0.98


def test_the_page_joins_a_stamped_pens_dots_as_preprocess_py(browser, static_url):
    """7s of a stamped pen's dots, joined into one line (tests/test_predict.py), and scattered
    specks, left as they are: the page makes preprocess.py's input of each."""
    from test_predict import scattered_specks, stamped_seven
    open_static(browser, static_url)
    for picture in [stamped_seven(3, 10), stamped_seven(8, 24), stamped_seven(7, 30), scattered_specks()]:
        page, ours = page_preprocess(browser, picture), to_mnist(picture)
        assert (np.abs(np.round(page * 255) - np.round(ours * 255)) <= 2).mean() >= 0.98


def test_the_page_thickens_a_1px_line_faded_by_shrinking_as_preprocess_py(browser, static_url):
    """A 1-px pencil's 8 on canvases of 500-640 px, shrunk to the working size and thickened
    as preprocess.py thickens it (at 640 px its faded line is dozens of pieces at half its
    brightest: measured at a quarter)."""
    from test_strokes import pencil_eight
    open_static(browser, static_url)
    for side in (500, 560, 640):
        picture = pencil_eight(side)
        page, ours = page_preprocess(browser, picture), to_mnist(picture)
        assert (np.abs(np.round(page * 255) - np.round(ours * 255)) <= 2).mean() >= 0.98, side
        assert np.abs(page - to_mnist(picture, normalise_strokes=False)).mean() > 0.05, side


def test_the_page_finds_a_1px_line_shrunk_into_the_paper_as_preprocess_py(browser, static_url):
    """A 1-px pencil's 8 on a 2,400 px canvas, shrunk 15 times: its line sinks into the
    paper ("blank") unless widened first, as preprocess.py widens it."""
    from test_strokes import pencil_eight
    open_static(browser, static_url)
    picture = pencil_eight(2400, 600)
    page, ours = page_preprocess(browser, picture), to_mnist(picture)
    assert (np.abs(np.round(page * 255) - np.round(ours * 255)) <= 2).mean() >= 0.98
    assert page.max() == 1


def test_the_page_keeps_strokes_drawn_to_the_edge_as_preprocess_py(browser, static_url):
    """A 5 drawn to the canvas's bottom edge, its bar apart (the bowl kept), and beside a 5
    inside the picture a finger, a page's edge and a faint stroke from the border (dropped)."""
    from test_predict import entering_from_the_border, five_with_its_bar_apart
    open_static(browser, static_url)
    clean = five_with_its_bar_apart()
    for picture in (five_with_its_bar_apart(lower=52), *entering_from_the_border(clean)):
        page = page_preprocess(browser, picture)
        assert (np.abs(np.round(page * 255) - np.round(to_mnist(picture) * 255)) <= 2).mean() >= 0.98
        assert np.abs(page - to_mnist(clean)).mean() < 0.02


def test_the_page_reads_any_pen_on_any_paper_as_preprocess_py(browser, static_url):
    """White chalk on a grey board, black on navy, blue on navy, red on a green board: the
    ink's side (step 3) and ink told by its colour (step 1)."""
    from test_predict import PENS_AND_PAPERS, five_with_its_bar_apart, in_colours
    open_static(browser, static_url)
    clean = to_mnist(five_with_its_bar_apart())
    for pen, paper in PENS_AND_PAPERS.values():
        page = page_preprocess(browser, in_colours(five_with_its_bar_apart(), pen, paper))
        assert np.abs(page - clean).mean() < 0.02, (pen, paper)


def test_the_detector_decides_as_in_python_on_50_non_digits(browser, static_url, model_file):
    from synthetic.nondigits import generate
    open_static(browser, static_url)
    predictor = Predictor.load(model_file)
    pictures = [p for kind in ("letters", "shapes", "scribbles") for p in generate(kind, 17, seed=11)][:50]
    thinned = 0
    for picture in pictures:     # (the pixels as base64: a JSON list of 313,600 numbers is slow)
        rgba = base64.b64encode(np.asarray(picture.convert("RGBA")).tobytes()).decode()
        score, digit, two_views = browser.execute_script(
            "const s = atob(arguments[0]), a = new Uint8ClampedArray(s.length);"
            "for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);"
            "const v = scratchnet.views(new ImageData(a, 280, 280)), r = scratchnet.predict(v.pixels, v.asDrawn);"
            "return [r.digitScore, r.digit, v.asDrawn !== null];", rgba)
        x, as_drawn = to_mnist_views(picture)    # (as read_picture makes them)
        assert two_views == (as_drawn is not x)
        thinned += two_views
        [expected] = predictor.classify([Prediction("picture", input=x, as_drawn=None if as_drawn is x else as_drawn)])
        if abs(expected.digit_score - predictor.openset.threshold) > 1e-3:   # (not a tie)
            assert (score >= predictor.openset.threshold) == expected.is_digit
        assert digit == expected.digit
    assert thinned >= 5          # bold letters and filled shapes: scored by their two views


def test_an_empty_canvas_says_so(browser, static_url):
    from selenium.webdriver.common.by import By
    open_static(browser, static_url)
    browser.find_element(By.ID, "clear").click()
    assert browser.find_element(By.ID, "confidence").text == "draw something"
    message = browser.execute_script(
        "try { scratchnet.preprocess(document.getElementById('canvas').getContext('2d')"
        ".getImageData(0, 0, 280, 280)); return 'no error'; } catch (e) { return e.message; }")
    assert message.startswith("no digit found")


def test_a_finger_draws_on_a_phone_without_moving_the_page(phone, static_url):
    from selenium.webdriver.common.by import By
    open_static(phone, static_url)
    assert phone.execute_script("return window.innerWidth") == 390
    replay(phone, digit_strokes(7, np.random.default_rng(3)), touch=True)
    wait_for_state(phone, "answered")
    assert phone.execute_script("return [window.scrollX, window.scrollY, visualViewport.scale]") == [0, 0, 1]
    assert phone.find_element(By.ID, "digit").text == "7"


def test_the_page_reads_a_phone_photo_upright_as_python_does(browser, static_url, model_file, tmp_path):
    """A JPEG stored on its side with EXIF orientation 6: the browser turns it upright, as
    preprocess.load_image does (decoders differ by a grey level: the digit, not the
    confidence, is compared)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from test_predict import five_with_its_bar_apart
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = tmp_path / "sideways.jpg"
    five_with_its_bar_apart().transpose(Image.Transpose.ROTATE_90).convert("RGB").save(photo, quality=95,
                                                                                       exif=exif.tobytes())
    [expected] = Predictor.load(model_file).predict_files([photo])
    assert expected.is_digit and expected.digit == 5
    open_static(browser, static_url)
    browser.execute_script("document.getElementById('upload').hidden = false;")
    browser.find_element(By.ID, "upload").send_keys(str(photo))
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "digit").text not in ("–", ""))
    assert browser.find_element(By.ID, "digit").text == "5"


def test_uploaded_pictures_are_answered_in_the_page_as_predict_py_answers(browser, static_url, model_file,
                                                                         tmp_path):
    """A photo, and a 1-px pencil's 8 on a 2560x1440 canvas: read at its own size, as
    preprocess.py reads it (scaled by the browser first, its line lost pixels)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from test_strokes import pencil_eight
    open_static(browser, static_url)
    pencil_eight(2560, 1440).save(tmp_path / "screen.png")
    browser.execute_script("document.getElementById('upload').hidden = false;")   # (a label opens it)
    pictures = (ROOT / "docs" / "five_photo.png", tmp_path / "screen.png")
    for picture, expected in zip(pictures, Predictor.load(model_file).predict_files(pictures)):
        browser.execute_script("document.getElementById('digit').textContent = '';")
        browser.find_element(By.ID, "upload").send_keys(str(picture))
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "digit").text not in ("–", ""))
        assert browser.find_element(By.ID, "digit").text == (str(expected.digit) if expected.is_digit else "?")
        assert browser.find_element(By.ID, "confidence").text == f"confidence {expected.confidence:.4f}"
