"""Pictures that are not digits, drawn the way people draw on the demo's canvas: dark strokes
on a light 280x280 background (or, for noise and textures, filling it). For the open-set
("not a digit") benchmark and tests.

KINDS maps a kind to its generator; every generator takes a numpy Generator, so a seed gives
the same pictures. once_named_digits() draws six pictures an early model named as
digits, the same way every time.
"""
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# the letters that do not look like a digit: the training generator's set, drawn here by
# other code, at another size, with other seeds
from scratchnet.data.nondigits import LETTERS

SIZE = 280


def _canvas():
    img = Image.new("L", (SIZE, SIZE), 255)
    return img, ImageDraw.Draw(img)


def _font(size):
    return ImageFont.load_default(size=size)   # Pillow's own scalable font: no system fonts needed


def letter(rng, char=None, bold=None):
    """One letter, 150-260 px font size, near the middle, regular or bold, tilted up to 15°."""
    char = char or str(rng.choice(list(LETTERS)))
    bold = bool(rng.integers(0, 2)) if bold is None else bold
    img, draw = _canvas()
    size = int(rng.integers(150, 260))
    x, y = (int(v) for v in rng.integers(115, 165, 2))
    draw.text((x, y), char, font=_font(size), fill=0, anchor="mm", stroke_width=12 if bold else 4,
              stroke_fill=0)
    return img.rotate(float(rng.uniform(-15, 15)), fillcolor=255)


def shape(rng, kind=None):
    """A filled or outlined square, rectangle, triangle or star, or a cross of two lines."""
    kind = kind or str(rng.choice(["square", "rectangle", "triangle", "star", "cross", "frame"]))
    img, draw = _canvas()
    c = rng.uniform(110, 170, 2)
    r = rng.uniform(60, 110)
    width = int(rng.integers(10, 22))
    if kind in ("square", "frame", "rectangle"):
        ry = r * (rng.uniform(0.4, 0.7) if kind == "rectangle" else 1)
        box = [c[0] - r, c[1] - ry, c[0] + r, c[1] + ry]
        draw.rectangle(box, fill=0 if kind != "frame" else None, outline=0, width=width)
    elif kind == "triangle":
        a = rng.uniform(0, 2 * np.pi)
        pts = [(c[0] + r * np.cos(a + k * 2 * np.pi / 3), c[1] + r * np.sin(a + k * 2 * np.pi / 3)) for k in range(3)]
        draw.polygon(pts, fill=0 if rng.integers(0, 2) else None, outline=0, width=width)
    elif kind == "star":
        a = rng.uniform(0, 2 * np.pi)
        pts = [(c[0] + (r if k % 2 == 0 else r * 0.45) * np.cos(a + k * np.pi / 5),
                c[1] + (r if k % 2 == 0 else r * 0.45) * np.sin(a + k * np.pi / 5)) for k in range(10)]
        draw.polygon(pts, fill=0)
    else:  # a cross: two strokes through the middle
        a = rng.uniform(0.5, 1.1)
        for sign in (1, -1):
            d = np.array([np.cos(sign * a), np.sin(sign * a)]) * r
            draw.line([tuple(c - d), tuple(c + d)], fill=0, width=width)
    return img


def scribble(rng, strokes=None):
    """Random pen strokes: a dozen straight lines, or a wandering random walk."""
    img, draw = _canvas()
    width = int(rng.integers(10, 20))
    if strokes is not None or rng.integers(0, 2):
        for _ in range(strokes or 12):
            p, q = rng.uniform(30, 250, 2), rng.uniform(30, 250, 2)
            draw.line([tuple(p), tuple(q)], fill=0, width=width)
    else:
        p = rng.uniform(80, 200, 2)
        pts = [tuple(p)]
        for _ in range(int(rng.integers(25, 60))):
            p = np.clip(p + rng.normal(0, 25, 2), 20, 260)
            pts.append(tuple(p))
        draw.line(pts, fill=0, width=width, joint="curve")
    return img


def noise(rng):
    """Uniform, Gaussian or salt-and-pepper noise over the whole canvas."""
    kind = rng.integers(0, 3)
    if kind == 0:
        a = rng.uniform(0, 255, (SIZE, SIZE))
    elif kind == 1:
        a = rng.normal(128, 60, (SIZE, SIZE))
    else:
        a = np.where(rng.random((SIZE, SIZE)) < rng.uniform(0.05, 0.3), 0, 255)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def texture(rng):
    """Stripes, a checkerboard or a grid, at a random scale and angle."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    period = rng.uniform(12, 50)
    a = rng.uniform(0, np.pi)
    u = xx * np.cos(a) + yy * np.sin(a)
    v = -xx * np.sin(a) + yy * np.cos(a)
    kind = rng.integers(0, 3)
    if kind == 0:
        on = np.sin(2 * np.pi * u / period) > 0
    elif kind == 1:
        on = (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    else:
        on = (np.abs(u % period) < 4) | (np.abs(v % period) < 4)
    return Image.fromarray(np.where(on, 0, 255).astype(np.uint8))


KINDS = {"letters": letter, "shapes": shape, "scribbles": scribble, "noise": noise, "textures": texture}


def generate(kind, n, seed):
    """n pictures of one kind, from its own seeded generator."""
    rng = np.random.default_rng([seed, list(KINDS).index(kind)])
    return [KINDS[kind](rng) for _ in range(n)]


def once_named_digits():
    """Six pictures an early model named as digits: {name: PIL image}."""
    img_x, draw = _canvas()
    draw.line([(50, 50), (230, 230)], fill=0, width=18)
    draw.line([(230, 50), (50, 230)], fill=0, width=18)
    img_square, draw = _canvas()
    draw.rectangle([70, 70, 210, 210], fill=0)
    rng = np.random.default_rng(13)
    return {"a big X": img_x, "a filled square": img_square,
            "the letter A (bold)": letter(np.random.default_rng(1), "A", bold=True),
            "the letter K": letter(np.random.default_rng(2), "K", bold=False),
            "twelve random strokes": scribble(rng, strokes=12),
            "uniform noise": Image.fromarray(rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8))}
