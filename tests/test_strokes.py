"""Stroke width: measured right on lines of known width, brought to MNIST's by preprocessing
(thin paint-tool lines and fat markers alike), and MNIST's own digits left as they are."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from scratchnet.data.preprocess import to_mnist, to_mnist_views
from scratchnet.data.strokes import HIGH, LOW, TARGET, dilate, erode, skeleton, stroke_width, width_change
from synthetic.drawstyles import draw_digit, outline, trace


def _seven(width, size=200):
    """A 7 drawn as a polyline with a round pen `width` px wide, ink bright on dark (bool)."""
    img = Image.new("L", (size, size), 0)
    s = size / 200
    points = [(40 * s, 40 * s), (160 * s, 40 * s), (90 * s, 170 * s)]
    ImageDraw.Draw(img).line(points, fill=255, width=width, joint="curve")
    for x, y in (points[0], points[-1]):
        r = width / 2
        ImageDraw.Draw(img).ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(img) > 127


@pytest.mark.parametrize("width", [1, 3, 6, 11, 21])
def test_the_width_of_a_line_drawn_at_a_known_width_is_measured(width):
    measured = stroke_width(_seven(width))
    print(f"drawn {width} px, measured {measured:.2f} px")
    assert measured == pytest.approx(width, rel=0.2, abs=0.4)


def test_a_skeleton_is_one_pixel_wide_and_keeps_a_ring_closed():
    yy, xx = np.mgrid[0:80, 0:80]
    ring = np.abs(np.hypot(yy - 40, xx - 40) - 25) < 6
    lines = skeleton(ring)
    assert lines.sum() < ring.sum() / 5 and (lines & ~ring).sum() == 0
    # closed: every skeleton pixel has exactly two neighbours on the line
    p = np.pad(lines, 1).astype(int)
    neighbours = sum(np.roll(np.roll(p, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) - p
    assert np.all(neighbours[1:-1, 1:-1][lines] >= 2)
    assert 2 * np.pi * 25 * 0.9 < lines.sum() < 2 * np.pi * 25 * 1.1


def test_dilate_and_erode_change_the_width_by_2r():
    ink = _seven(5).astype(np.float32)
    assert stroke_width(dilate(ink, 3) > 0.5) == pytest.approx(11, rel=0.15)
    assert stroke_width(erode(dilate(ink, 3), 2) > 0.5) == pytest.approx(7, rel=0.15)


def test_width_change_brings_thin_lines_to_mnists_median_and_fat_markers_to_half():
    assert width_change(2.0, 20, 20) == 0 and width_change(LOW, 20, 20) == 0 and width_change(HIGH, 20, 20) == 0
    for width, box, target in ((1, 120, TARGET), (1, 28, TARGET), (0.3, 20, TARGET),
                               (42, 200, TARGET), (60, 200, 3.0), (150, 200, HIGH)):
        d = width_change(width, box, 20)          # (42 px in 200: 4.2 px at 28x28, halved under TARGET)
        assert (width + d) / (box + d) * 20 == pytest.approx(target)


def _width_at_28(digit):
    return stroke_width(digit > 0.5)


@pytest.mark.parametrize("pen", [1, 2, 5, 12, 24, 60])
def test_a_digit_drawn_with_any_pen_comes_out_with_mnists_width(pen):
    picture = Image.fromarray(np.where(_seven(pen), 0, 255).astype(np.uint8))   # dark on light
    digit = to_mnist(picture)
    raw = to_mnist(picture, normalise_strokes=False)
    print(f"pen {pen} px: width at 28x28 {_width_at_28(raw):.2f} as drawn, {_width_at_28(digit):.2f} normalised")
    assert LOW * 0.85 <= _width_at_28(digit) <= HIGH * 1.1


def test_thin_and_fat_drawings_of_one_digit_come_out_alike():
    """Closer than as drawn, though not equal: the fat pen is thinned to half its width, at
    most MNIST's 4 px, not to the thin pen's 2.2 px."""
    thin = to_mnist(Image.fromarray(np.where(_seven(1), 0, 255).astype(np.uint8)))
    fat = to_mnist(Image.fromarray(np.where(_seven(60), 0, 255).astype(np.uint8)))
    raw_thin = to_mnist(Image.fromarray(np.where(_seven(1), 0, 255).astype(np.uint8)), normalise_strokes=False)
    raw_fat = to_mnist(Image.fromarray(np.where(_seven(60), 0, 255).astype(np.uint8)), normalise_strokes=False)
    assert np.abs(thin - fat).mean() < 0.6 * np.abs(raw_thin - raw_fat).mean()


def test_only_a_thinned_drawing_has_a_second_view_as_drawn(mnist):
    """to_mnist_views: a fat marker's 7 (thinned) comes with its picture as drawn; a 1-px 7
    (thickened) and an MNIST digit (left alone) with the same array twice."""
    for pen, thinned in ((60, True), (1, False)):
        picture = Image.fromarray(np.where(_seven(pen), 0, 255).astype(np.uint8))
        x, as_drawn = to_mnist_views(picture)
        np.testing.assert_array_equal(x, to_mnist(picture))
        assert (as_drawn is not x) == thinned
        if thinned:
            np.testing.assert_array_equal(as_drawn, to_mnist(picture, normalise_strokes=False))
            assert as_drawn.sum() > 1.3 * x.sum()
    x, as_drawn = to_mnist_views(Image.fromarray(mnist.test_images[0]))
    assert as_drawn is x


def test_mnist_digits_pass_through_nearly_unchanged(mnist):
    digits = mnist.test_images[:300]
    same, diffs = 0, []
    for d in digits:
        picture = Image.fromarray(d)
        a, b = to_mnist(picture), to_mnist(picture, normalise_strokes=False)
        same += np.array_equal(a, b)
        diffs.append(np.abs(a - b).mean())
    print(f"{same} of {len(digits)} unchanged; mean |difference| {np.mean(diffs):.4f}")
    assert same >= 0.9 * len(digits)
    assert np.mean(diffs) < 0.01


def test_a_digit_drawn_with_a_1px_pencil_is_accepted_and_named_right(model_file, mnist):
    from scratchnet.apps.inference import Prediction, Predictor
    predictor = Predictor.load(model_file)
    rng = np.random.default_rng(3)
    picks = range(40)
    pictures = [draw_digit(mnist.test_images[i], "line_1px", rng) for i in picks]
    x = np.stack([to_mnist(p) for p in pictures])[:, None]
    scores, logits = predictor.openset.scores(predictor.model, x, with_logits=True)
    kept = scores >= predictor.openset.threshold
    right = logits.argmax(1) == mnist.test_labels[list(picks)]
    print(f"1-px drawings: kept {kept.mean():.0%}, named right {(kept & right).mean():.0%}")
    assert (kept & right).mean() >= 0.85
    # one clear 7, drawn with a 1-px pencil on a 140 px canvas
    lines = outline(np.asarray(Image.fromarray(_seven(12, 140).astype(np.uint8) * 255)), 120, rng)
    picture = Image.fromarray(np.where(trace(lines, 0), 0, 255).astype(np.uint8))
    [r] = predictor.classify([Prediction("seven", input=to_mnist(picture))])
    assert r.is_digit and r.digit == 7


def test_a_thin_line_broken_into_pieces_is_thickened_and_speckle_left_alone():
    from scratchnet.data.strokes import MAX_ENDS, normalise_width
    line = _seven(1, size=80).astype(np.float32)
    ys, xs = np.nonzero(line)
    order = np.argsort(ys * 80 + xs)
    broken = line.copy()
    broken[ys[order][::8], xs[order][::8]] = 0           # gaps, as scaling leaves in a faint line
    assert stroke_width(broken > 0.5, with_ends=True)[1] > MAX_ENDS
    out, _ = normalise_width(broken, 20)
    assert stroke_width(out > 0.5) > 2 * stroke_width(broken > 0.5)
    speckle = (np.random.default_rng(0).random((80, 80)) < 0.05).astype(np.float32)
    assert normalise_width(speckle, 20)[0] is speckle


def pencil_eight(width, height=None):
    """An 8 drawn with a paint program's 1-px pencil (two rings) on a `width` px canvas,
    square or `height` px high."""
    height = height or width
    img = Image.new("L", (width, height), 255)
    draw, x, y, r = ImageDraw.Draw(img), width / 2, height / 2, height * 0.2
    draw.ellipse([x - 0.8 * r, y - 2 * r, x + 0.8 * r, y], outline=0, width=1)
    draw.ellipse([x - r, y, x + r, y + 2 * r], outline=0, width=1)
    return img


def test_a_1px_line_faded_by_shrinking_a_big_canvas_is_thickened():
    """Shrunk fourfold to the working size, a 1-px line is a faint one whose brightness comes
    and goes along it: at half the brightest it is dozens of pieces, more than a 1-px dilation
    is trusted to join; it is still thickened to MNIST's width."""
    from scratchnet.data import preprocess
    from scratchnet.data.strokes import BROKEN_ENDS, normalise_width
    crop = preprocess._ink_crop(pencil_eight(640))
    assert stroke_width(crop > 0.5 * crop.max(), with_ends=True)[1] > BROKEN_ENDS
    out, _ = normalise_width(crop, 20)
    width = stroke_width(out > 0.5 * out.max()) * 20 / max(out.shape)
    assert abs(width - TARGET) < 0.4, width


def test_dense_noise_that_a_dilation_would_join_is_left_alone():
    from scratchnet.data.strokes import normalise_width
    noise = (np.random.default_rng(1).random((60, 60)) < 0.35).astype(np.float32)
    assert normalise_width(noise, 20)[0] is noise


def test_a_blurred_thumbnail_is_not_thinned_and_a_crisp_fat_drawing_is():
    from scratchnet.data.strokes import normalise_width
    fat = _seven(50).astype(np.float32)
    crisp, _ = normalise_width(fat[30:180, 30:180], 20)
    assert stroke_width(crisp > 0.5) < stroke_width(fat > 0.5)
    # as UCI's digits reach us: 8x8, shown at 32x32
    thumbnail = Image.fromarray((fat * 255).astype(np.uint8)).resize((8, 8), Image.Resampling.BOX)
    blurred = np.asarray(thumbnail.resize((32, 32), Image.Resampling.BILINEAR), np.float32) / 255
    assert normalise_width(blurred, 20)[0] is blurred
