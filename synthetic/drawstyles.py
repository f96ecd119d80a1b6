"""How people really draw, for the "not a digit" benchmark (benchmarks/bench_openset.py) and
tests: MNIST digits re-drawn in many pen styles, real people's 8x8 digits (UCI), and the
non-digits people try, drawn with a wobbling pen.

A re-drawing is a skeleton (the strokes thinned to 1-px lines, scratchnet.data.strokes) of a
source picture warped by a smooth random displacement (a hand is never steady), then traced
with a pen of some width on a canvas. The detector's own training pictures come from other
code (scratchnet/data/nondigits.py), other fonts and other seeds.

Other scripts need fonts from system packages (Debian: fonts-dejavu-core for Greek, Cyrillic
and Hebrew, fonts-lohit-deva for Devanagari, fonts-wqy-microhei for CJK; the handwriting fonts'
packages for HANDWRITING_FONTS; hershey-fonts-data for the joined-up letters); a kind whose
fonts are missing is reported as such, never drawn with a stand-in.
"""
import functools
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from scratchnet.data.atlas import HERSHEY, read_jhf
from scratchnet.data.preprocess import _crop
from scratchnet.data.strokes import dilate, skeleton

CANVAS = 280

DIGIT_STYLES = ("line_1px", "fine_pen", "thick_marker", "pressure_pen", "small_in_big",
                "photo_of_paper", "cropped_tight")

# letters that do not look like a digit, and those that honestly do (reported apart)
UPPER = "ACEFHKLMNPRUVWXY"
LOWER = "acefhkmnprtuvwxy"
DIGIT_SHAPED = "BDGIJOQSZbdgilooqsz"
DIGIT_SHAPED_HEBREW = "לר"   # lamed and resh: a 7's bar and down-stroke
SYMBOLS = "+=%&@#?!"
SCRIPTS = {   # (font file, characters that look like no digit)
    "greek": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "αβγλπψωΓΔΛΞΠΣΦΨΩ"),
    "cyrillic": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "ЖДЯФШЩЮЛПЦЭжлпфшщюя"),
    "hebrew": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "אבגדהחטכמנעפצקשת"),
    "devanagari": ("/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf",
                   "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसहअआइईउ"),
    "cjk": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "我你好学字龍愛書電話語魚鳥飛馬車風雨雪"),
}
LATIN_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf",
               "DejaVuSansMono.ttf", "DejaVuSans-Oblique.ttf")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
# handwriting-style fonts (Debian's fonts-dkg-handwriting, fonts-femkeklaver,
# fonts-kristi, fonts-ecolier-court, fonts-humor-sans, fonts-comic-neue, fonts-klee,
# fonts-cabinsketch): letters closer to a hand's than DejaVu's; none is among the detector's
HANDWRITING_FONTS = tuple("/usr/share/fonts/" + f for f in (
    "truetype/fifthhorseman/dkg.ttf", "truetype/femkeklaver/femkeklaver.ttf", "truetype/kristi/Kristi.ttf",
    "truetype/ecolier-court/Ecolier-court.ttf", "truetype/humor-sans/Humor-Sans.ttf",
    "opentype/comic-neue/ComicNeue-Regular.otf", "truetype/klee/KleeOne-Regular.ttf",
    "truetype/cabinsketch/CabinSketch-Regular.ttf"))

# Hershey's "script simplex" (Debian's hershey-fonts-data): a joined-up hand's letters, one
# pen line along each stroke; the detector learns from its "script complex" (the same hand,
# doubled lines) and two other Hershey fonts, drawn by other code
CURSIVE_FONT = HERSHEY + "scripts.jhf"


@functools.lru_cache(maxsize=None)
def _font(path, size):
    return ImageFont.truetype(str(path), size)


def font_available(path):
    return Path(path).is_file()


def wobble(ink, rng, amount):
    """(H, W) bool -> the same strokes moved by a smooth random field of up to `amount` px."""
    h, w = ink.shape
    field = rng.normal(0, amount / 2, (2, 4, 4)).astype(np.float32)
    dy, dx = (np.asarray(Image.fromarray(f, mode="F").resize((w, h), Image.Resampling.BICUBIC)) for f in field)
    yy, xx = np.mgrid[0:h, 0:w]
    return ink[np.clip(np.round(yy + dy), 0, h - 1).astype(int), np.clip(np.round(xx + dx), 0, w - 1).astype(int)]


def trace(lines, radius, rng=None, varying=False):
    """1-px lines (H, W) bool -> strokes of a pen `radius` px (0: the 1-px lines themselves),
    or, varying=True, a pressure pen whose radius wanders between 1 and `radius`."""
    if not varying:
        return dilate(lines.astype(np.float32), radius)[radius:-radius or None, radius:-radius or None] > 0.5
    h, w = lines.shape
    pressure = rng.uniform(0, 1, (3, 3)).astype(np.float32)
    pressure = np.asarray(Image.fromarray(pressure, mode="F").resize((w, h), Image.Resampling.BICUBIC))
    radii = np.clip(1 + np.round(pressure * (radius - 1)), 1, radius).astype(int)
    out = np.zeros_like(lines)
    for r in np.unique(radii):
        out |= trace(lines & (radii == r), int(r))
    return out


def outline(picture, size, rng, amount=0.0):
    """A picture's ink (bright on dark uint8, or bool) scaled to `size` px -> its skeleton,
    after a wobble of `amount` px."""
    ink = Image.fromarray(np.asarray(picture, dtype=np.uint8) * (255 if picture.dtype == bool else 1))
    ink = np.asarray(ink.resize((size, size), Image.Resampling.BILINEAR)) > 110
    if amount:
        ink = wobble(ink, rng, amount)
    return skeleton(ink)


def on_canvas(ink, canvas, rng, at=None):
    """Dark strokes on light paper: the (h, w) bool ink pasted into a (canvas) px square (or
    (H, W)) at a random place (or `at`), as a grey PIL picture."""
    H, W = (canvas, canvas) if np.isscalar(canvas) else canvas
    paper = np.full((H, W), 255, np.uint8)
    h, w = ink.shape
    y, x = at if at is not None else (int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)))
    paper[y:y + h, x:x + w][ink] = 0
    return Image.fromarray(paper)


def draw_digit(digit, style, rng):
    """An MNIST digit (28, 28) uint8 re-drawn in one of DIGIT_STYLES, as a grey PIL picture."""
    if style == "line_1px":              # a paint program's 1-px pencil on a small canvas
        size = int(rng.integers(90, 130))
        return on_canvas(outline(digit, size, rng, 1.0), int(rng.integers(size + 10, size + 60)), rng)
    if style == "fine_pen":              # a fine pen on a demo's canvas, anti-aliased
        size = int(rng.integers(180, 250))
        lines = outline(digit, size, rng, 2.0)
        return on_canvas(trace(lines, 1), CANVAS, rng).filter(ImageFilter.GaussianBlur(0.7))
    if style == "thick_marker":          # a felt-tip marker as wide as a tenth of the digit
        size = int(rng.integers(170, 220))
        lines = outline(digit, size, rng, 2.0)
        return on_canvas(trace(lines, int(rng.integers(9, 15))), CANVAS, rng)
    if style == "pressure_pen":          # a stylus whose width follows the pressure
        size = int(rng.integers(170, 240))
        lines = outline(digit, size, rng, 2.0)
        return on_canvas(trace(lines, int(rng.integers(4, 10)), rng, varying=True), CANVAS, rng)
    if style == "small_in_big":          # a small digit somewhere on a big canvas
        size = int(rng.integers(36, 70))
        lines = outline(digit, size, rng, 0.5)
        return on_canvas(trace(lines, 1), (int(rng.integers(500, 800)), int(rng.integers(700, 1000))), rng)
    if style == "photo_of_paper":        # pen on paper, photographed: uneven light, a shadow
        from synthetic.userstyle import stylise
        return stylise(digit, "photo_pen" if rng.integers(0, 2) else "photo_marker", rng)
    if style == "cropped_tight":         # any pen, the picture cropped to the ink before an upload
        size = int(rng.integers(60, 300))
        lines = outline(digit, size, rng, 1.0)
        ink = _crop(trace(lines, int(rng.integers(size // 60, size // 12 + 1))))
        margin = int(rng.integers(0, 4))
        return on_canvas(ink, (ink.shape[0] + 2 * margin, ink.shape[1] + 2 * margin), rng, at=(margin, margin))
    raise ValueError(f"unknown style {style!r}")


def screenshot(digit, rng):
    """An MNIST digit drawn on a canvas demo's canvas (dark on white, or white on black) and
    the screen around it captured, as an RGB picture: the canvas with a frame's line or none,
    on a page of another shade (light, grey or dark), a title above it and buttons below."""
    side = int(rng.integers(180, 320))
    ink = trace(outline(digit, int(side * rng.uniform(0.6, 0.85)), rng, 2.0), int(rng.integers(3, 10)))
    canvas = np.asarray(on_canvas(ink, side, rng), np.float32) / 255          # dark ink on white
    if rng.integers(0, 3) == 0:
        canvas = 1 - canvas                                                    # white ink on black
    shades = [s for s in (0.97, 0.85, 0.75, 0.25, 0.12) if abs(s - canvas[0, 0]) > 0.1]
    page = float(rng.choice(shades))
    frame = int(rng.integers(0, 4)) if abs(page - canvas[0, 0]) > 0.2 else int(rng.integers(1, 4))
    left, top = int(rng.integers(10, 120)), int(rng.integers(50, 110))
    width, height = left + side + int(rng.integers(10, 200)), top + side + int(rng.integers(60, 140))
    shot = Image.new("L", (width, height), round(page * 255))
    draw = ImageDraw.Draw(shot)
    text = 0 if page > 0.5 else 230
    # matplotlib's own copy of the font: the tests draw screenshots on machines without system fonts
    sans = Path(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    draw.text((left, top // 3), "Draw a digit", fill=text, font=_font(sans, int(rng.integers(14, 24))))
    shot.paste(Image.fromarray(np.round(canvas * 255).astype(np.uint8)), (left, top))
    if frame:
        shade = int(rng.choice([0, 90, 150, 200]))
        draw.rectangle([left - frame, top - frame, left + side + frame - 1, top + side + frame - 1],
                       outline=shade, width=frame)
    x = left
    for label in ("Clear", "Predict")[:int(rng.integers(1, 3))]:               # buttons
        draw.rectangle([x, top + side + 16, x + 70, top + side + 44], fill=round(page * 255), outline=text)
        draw.text((x + 12, top + side + 21), label, fill=text, font=_font(sans, 14))
        x += 86
    tint = rng.uniform(0.9, 1.0, 3)
    return Image.fromarray(np.clip(np.asarray(shot)[..., None] * tint, 0, 255).astype(np.uint8), "RGB")


def drawn_to_the_edge(digit, rng):
    """An MNIST digit drawn with a 1-5 px pen on a paint program's canvas, up to one of its
    sides or into a corner, as a drawing that fills its canvas does."""
    ink = _crop(trace(outline(digit, int(rng.integers(100, 220)), rng, 1.0), int(rng.integers(0, 3))))
    h, w = ink.shape
    H, W = h + int(rng.integers(20, 80)), w + int(rng.integers(20, 80))
    y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
    side = int(rng.integers(0, 6))      # bottom, top, left, right, bottom-left, top-right
    y = H - h if side in (0, 4) else 0 if side in (1, 5) else y
    x = 0 if side in (2, 4) else W - w if side in (3, 5) else x
    return on_canvas(ink, (H, W), rng, at=(y, x))


def pencil_on_a_big_canvas(digit, rng):
    """An MNIST digit drawn with a paint program's 1-px pencil (no anti-aliasing) on a canvas
    of 170-640 px, a third of it to nearly all of it: more than the working size, so shrunk."""
    side = int(rng.integers(170, 641))
    return on_canvas(outline(digit, int(side * rng.uniform(0.35, 0.95)), rng, 1.5), side, rng)


SCREENS = ((1280, 720), (1920, 1080), (2560, 1440), (3840, 2160))


def pencil_on_a_screen(digit, rng):
    """An MNIST digit drawn with a paint program's 1-px pencil on a canvas the size of a
    screen (720p to 4K), a fifth of its height to nearly all of it: shrunk up to 24 times. The
    line is the digit's skeleton at 400 px at most, each pixel joined to its neighbours by a
    1-px line at the full size (a skeleton of the full size takes seconds)."""
    width, height = SCREENS[int(rng.integers(0, len(SCREENS)))]
    size = int(height * rng.uniform(0.2, 0.9))
    base = min(size, 400)
    lines, k = outline(digit, base, rng, 1.5), size / base
    img = Image.new("L", (width, height), 255)
    y0, x0 = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    draw = ImageDraw.Draw(img)
    ys, xs = np.nonzero(lines)
    ink = np.pad(lines, 1)                                 # (ink[y + 1, x + 1] is lines[y, x])
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):     # each neighbour pair once
        y, x = ys + dy, xs + dx
        ok = ink[y + 1, x + 1]
        if dy and dx:                                      # a diagonal step only where no corner joins them
            ok &= ~ink[ys + 1, x + 1] & ~ink[y + 1, xs + 1]
        for a, b, c, d in zip(xs[ok], ys[ok], x[ok], y[ok]):
            draw.line([(x0 + a * k, y0 + b * k), (x0 + c * k, y0 + d * k)], fill=0, width=1)
    for a, b in zip(xs, ys):                               # each pixel's own point (a lone one stays a dot)
        draw.point((x0 + a * k, y0 + b * k), fill=0)
    return img


def paint_window(digit, rng):
    """An MNIST digit drawn with a paint program's 1-px pencil on a canvas the size of a screen
    (pencil_on_a_screen), and the program's window captured: the canvas in a 1-px frame's line
    or none, on a page of another shade (light grey, as many paint programs', grey or dark), a
    toolbar of buttons above it and a status bar below, as an RGB picture."""
    canvas = pencil_on_a_screen(digit, rng)
    w, h = canvas.size
    page = int(rng.choice([240, 225, 200, 64, 32]))
    left, right, bottom = (int(v) for v in rng.integers(30, 200, 3))
    top = int(rng.integers(100, 220))
    shot = Image.new("L", (left + w + right, top + h + bottom), page)
    shot.paste(canvas, (left, top))
    draw = ImageDraw.Draw(shot)
    frame = int(rng.integers(0, 2))
    if frame:
        draw.rectangle([left - 1, top - 1, left + w, top + h], outline=int(rng.choice([0, 120, 180])))
    bar, text = page - 16 if page > 128 else page + 24, 0 if page > 128 else 230
    draw.rectangle([0, 0, shot.width, top - 40], fill=bar)                        # the toolbar
    for k in range(int(rng.integers(6, 14))):
        draw.rectangle([20 + 56 * k, 20, 64 + 56 * k, top - 60], outline=text)
    draw.rectangle([0, top + h + bottom // 2, shot.width, shot.height], fill=bar)  # the status bar
    tint = rng.uniform(0.9, 1.0, 3)
    return Image.fromarray(np.clip(np.asarray(shot)[..., None] * tint, 0, 255).astype(np.uint8), "RGB")


def stamped(digit, rng):
    """An MNIST digit drawn on a canvas demo that stamps a round pen (3-9 px) at each mouse
    event and does not join the stamps: 1.2-3 pen radii apart along the strokes (beads where
    they overlap, dots where the hand moved fast), on a 280 px canvas."""
    lines = outline(digit, int(rng.integers(170, 250)), rng, 2.0)
    radius = int(rng.integers(3, 10))
    apart = radius * rng.uniform(1.2, 3.0)
    ys, xs = np.nonzero(lines)
    stamps = np.zeros((0, 2))
    for p in rng.permutation(np.stack([ys, xs], 1)):       # each point at least `apart` from the others
        if not len(stamps) or ((stamps - p) ** 2).sum(1).min() >= apart ** 2:
            stamps = np.vstack([stamps, p])
    points = np.zeros_like(lines)
    points[stamps[:, 0].astype(int), stamps[:, 1].astype(int)] = True
    return on_canvas(trace(points, radius), CANVAS, rng)


def ruled_one(rng):
    """A 1 drawn with a paint program's line tool: one ruler-straight stroke, upright one time
    in two, else slanted up to 10 degrees either way, with a 1-20 px pen on a 150-400 px
    canvas, as a grey PIL picture."""
    side = int(rng.integers(150, 401))
    length = side * rng.uniform(0.4, 0.85)
    angle = 0.0 if rng.integers(0, 2) else np.radians(rng.uniform(-10, 10))
    dx, dy = length * np.sin(angle) / 2, length * np.cos(angle) / 2
    x, y = rng.uniform(side * 0.3, side * 0.7), rng.uniform(dy + 5, side - dy - 5)
    img = Image.new("L", (side, side), 255)
    ImageDraw.Draw(img).line([(x - dx, y + dy), (x + dx, y - dy)], fill=0, width=int(rng.integers(1, 21)))
    return img


def cropped_to_ink(digit, size=112, margin=0):
    """An MNIST digit (28, 28) uint8 cropped to its ink, scaled so its longer side is `size`
    px, dark on light paper with `margin` px all round (as a user crops a drawing before
    uploading it), as a grey PIL picture."""
    ink = _crop(digit)
    h, w = ink.shape
    scaled = Image.fromarray(255 - ink).resize((max(1, round(w * size / max(h, w))), round(h * size / max(h, w))),
                                               Image.Resampling.BICUBIC)
    paper = Image.new("L", (scaled.width + 2 * margin, scaled.height + 2 * margin), 255)
    paper.paste(scaled, (margin, margin))
    return paper


def uci_digits():
    """(images, labels): scikit-learn's copy of UCI's handwritten digits (1,797 of them, 43
    people), each 8x8 of 0-16 shown as a 32x32 grey picture (the 32x32 bitmaps they were
    counted from), white on black as in the original."""
    from sklearn.datasets import load_digits
    data = load_digits()
    pictures = [Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((32, 32), Image.Resampling.BILINEAR)
                for img in data.images]
    return pictures, data.target


# --- non-digits -----------------------------------------------------------------------------

def _glyph(char, font_path, rng):
    """A character rendered big and bright on dark, (H, W) uint8, cropped to its ink."""
    img = Image.new("L", (400, 400), 0)
    ImageDraw.Draw(img).text((200, 200), char, font=_font(font_path, 220), fill=255, anchor="mm")
    a = np.asarray(img)
    rows, cols = np.flatnonzero(a.max(1) > 0), np.flatnonzero(a.max(0) > 0)
    a = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    side = max(a.shape) + 20
    square = np.zeros((side, side), np.uint8)
    y, x = (side - a.shape[0]) // 2, (side - a.shape[1]) // 2
    square[y:y + a.shape[0], x:x + a.shape[1]] = a
    return square


def handwritten(char, font_path, rng):
    """A character as a person would draw it: its outline traced by a wobbling pen."""
    size = int(rng.integers(150, 230))
    lines = outline(_glyph(char, font_path, rng), size, rng, 3.0)
    return on_canvas(trace(lines, int(rng.integers(1, 7))), CANVAS, rng)


@functools.cache
def _strokes(path):
    return read_jhf(path)


def cursive(rng, char=None):
    """A joined-up letter (Hershey's script) as a pen draws it: its strokes slanted, swayed
    by a slow wave and drawn 2-17 px wide, 45-80% of the canvas."""
    char = char or cursive.characters[int(rng.integers(len(cursive.characters)))]
    strokes = _strokes(CURSIVE_FONT)[char]
    points = np.concatenate(strokes)
    low, extent, size = points.min(axis=0), np.ptp(points, axis=0), rng.uniform(0.45, 0.8) * CANVAS
    scale = size / extent.max()
    slant, phase = rng.normal(0, 0.15), rng.uniform(0, 2 * np.pi, 2)
    at = rng.uniform(0.1, 0.9, 2) * (CANVAS - extent * scale)
    img = Image.new("L", (CANVAS, CANVAS), 255)
    draw, width, sway = ImageDraw.Draw(img), int(rng.integers(2, 18)), rng.uniform(0, 0.02) * size
    for stroke in strokes:
        along = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))])
        t = np.linspace(0, along[-1], max(2, int(along[-1] * 2)))
        p = (np.stack([np.interp(t, along, stroke[:, 0]), np.interp(t, along, stroke[:, 1])], 1) - low) * scale
        p[:, 0] += slant * (p[:, 1] - p[:, 1].mean())
        p += sway * np.stack([np.sin(t / 3 + phase[0]), np.cos(t / 4 + phase[1])], 1)
        draw.line([tuple(q) for q in p + at], fill=0, width=width, joint="curve")
    return img


cursive.characters = UPPER + LOWER


def _doodle_lines(kind, rng):
    """A doodle's strokes, drawn with a 1-px pen on a 200 px square: (200, 200) bool."""
    img = Image.new("1", (200, 200), 0)
    d = ImageDraw.Draw(img)
    j = lambda: rng.normal(0, 4)   # noqa: E731 - a hand's wobble
    if kind == "house":
        d.rectangle([40 + j(), 90 + j(), 160 + j(), 180 + j()], outline=1)
        d.line([(30 + j(), 95 + j()), (100 + j(), 25 + j()), (170 + j(), 95 + j())], fill=1)
        d.rectangle([85, 130 + j(), 115, 180], outline=1)
    elif kind == "sun":
        r = rng.uniform(30, 45)
        d.ellipse([100 - r, 100 - r, 100 + r, 100 + r], outline=1)
        for a in np.arange(int(rng.integers(7, 13))) * 2 * np.pi / rng.integers(7, 13):
            d.line([(100 + (r + 8) * np.cos(a), 100 + (r + 8) * np.sin(a)),
                    (100 + (r + 40) * np.cos(a), 100 + (r + 40) * np.sin(a))], fill=1)
    elif kind == "face":
        d.ellipse([25 + j(), 25 + j(), 175 + j(), 175 + j()], outline=1)
        for x in (70, 130):
            d.ellipse([x - 8, 70 + j(), x + 8, 86], outline=1)
        d.arc([60, 90 + j(), 140, 150], 20, 160, fill=1)
    elif kind == "star":
        a = rng.uniform(0, 2 * np.pi) + np.arange(6) * 4 * np.pi / 5
        d.line([(100 + 85 * np.cos(t) + j(), 100 + 85 * np.sin(t) + j()) for t in a], fill=1)
    elif kind == "arrow":
        a = rng.uniform(0, 2 * np.pi)
        u = np.array([np.cos(a), np.sin(a)])
        head, tail = 100 + 80 * u, 100 - 80 * u
        d.line([tuple(tail), tuple(head)], fill=1)
        for turn in (2.6, -2.6):
            v = np.array([np.cos(a + turn), np.sin(a + turn)])
            d.line([tuple(head), tuple(head + 40 * v)], fill=1)
    elif kind == "heart":
        t = np.linspace(0, 2 * np.pi, 80)
        x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        d.line([(100 + 5 * a, 95 - 5 * b) for a, b in zip(x, y)], fill=1)
    return np.asarray(img, dtype=bool)


DOODLES = ("house", "sun", "face", "star", "arrow", "heart")


def doodle(rng, kind=None):
    kind = kind or DOODLES[int(rng.integers(0, len(DOODLES)))]
    lines = _doodle_lines(kind, rng)
    size = int(rng.integers(170, 250))
    lines = outline(lines.astype(np.uint8) * 255, size, rng, 2.0)
    return on_canvas(trace(lines, int(rng.integers(1, 8))), CANVAS, rng)


def scribble(rng):
    """A wandering pen: a random walk with momentum."""
    img = Image.new("L", (CANVAS, CANVAS), 255)
    p, v = rng.uniform(90, 190, 2), rng.normal(0, 8, 2)
    pts = [tuple(p)]
    for _ in range(int(rng.integers(30, 90))):
        v = 0.8 * v + rng.normal(0, 6, 2)
        p = np.clip(p + v, 20, CANVAS - 20)
        pts.append(tuple(p))
    ImageDraw.Draw(img).line(pts, fill=0, width=int(rng.integers(2, 16)), joint="curve")
    return img


def blankish(rng):
    """Paper with nothing on it but noise: a faint grain, a few specks, a smudge."""
    a = rng.normal(rng.uniform(200, 245), rng.uniform(2, 12), (CANVAS, CANVAS))
    for _ in range(int(rng.integers(0, 6))):
        y, x = rng.integers(0, CANVAS, 2)
        a[max(0, y - 2):y + 2, max(0, x - 2):x + 2] -= rng.uniform(40, 150)
    if rng.integers(0, 2):
        yy, xx = np.mgrid[0:CANVAS, 0:CANVAS]
        c, r = rng.uniform(60, 220, 2), rng.uniform(20, 60)
        a -= rng.uniform(10, 40) * np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / r ** 2)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _in_fonts(chars, fonts, available):
    """A kind of characters, each drawn in one of `fonts` at random."""
    def make(rng, char=None):
        font = fonts[int(rng.integers(0, len(fonts)))]
        return handwritten(char or chars[int(rng.integers(0, len(chars)))], font, rng)
    make.characters = chars
    return make, available


def _latin(chars):
    return _in_fonts(chars, [DEJAVU / f for f in LATIN_FONTS], font_available(DEJAVU / LATIN_FONTS[0]))


def _handwriting(chars):
    return _in_fonts(chars, HANDWRITING_FONTS, all(font_available(f) for f in HANDWRITING_FONTS))


def _script(path, chars):
    def make(rng, char=None):
        return handwritten(char or chars[int(rng.integers(0, len(chars)))], path, rng)
    make.characters = chars
    return make, font_available(path)


def nondigit_kinds():
    """{kind: (make(rng) -> PIL picture, available)}: the benchmark's non-digits. The
    digit-shaped letters, Latin and Hebrew, are kinds of their own, reported apart. A kind of
    characters has make(rng, char) for one of them too, and make.characters."""
    kinds = {"letters (upper case)": _latin(UPPER), "letters (lower case)": _latin(LOWER),
             "symbols": _latin(SYMBOLS)}
    kinds.update({name: _script(*SCRIPTS[name]) for name in SCRIPTS})
    kinds.update({"doodles": (doodle, True), "scribbles": (scribble, True), "blank-ish noise": (blankish, True),
                  "digit-shaped letters": _latin(DIGIT_SHAPED),
                  # last, in the order added: the kinds before each draw the same pictures from
                  # the same seed as before it
                  "letters (handwriting fonts)": _handwriting(UPPER + LOWER),
                  "digit-shaped (Hebrew)": _script(SCRIPTS["hebrew"][0], DIGIT_SHAPED_HEBREW),
                  "letters (cursive pen)": (cursive, font_available(CURSIVE_FONT))})
    return kinds
