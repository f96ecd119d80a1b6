"""Small pictures drawn like people draw on a canvas (dark ink on light paper): digits from
MNIST and things that are not digits. Preprocessed like any picture (preprocess.to_mnist),
they teach the open-set detector (apps/openset.py) what a digit and a non-digit look like
AFTER preprocessing, which is all the network ever sees.

Digits come as MNIST drew them, as canvas pictures with a thinner or thicker pen, traced
along their skeleton with a pen of some width (a 1-px paint tool up to a marker), as tiny
low-resolution scans, and drawn by a wobbling hand at any size on a canvas; some 1s with a long
flag and some 0s slashed, as many people write them (written_variants). Non-digits come
in thirty-two families: letters (not the digit-like ones) typed and traced by hand, symbols,
letters of other scripts, invented glyphs, doodles, shapes, scribbles, filled blobs, noise,
textures and bare paper; and letters, symbols, mathematical signs and arrows, pictographs
and letters of other scripts in many fonts, typed or drawn by the same wobbling hand as the
digits; the Greek, Cyrillic and Hebrew alphabets typed and drawn; scribbles drawn with a
paint tool's pen; strokes that turn a few sharp corners, as a hand scribbles; a hand
scribbling without aim (four shares: at 28x28 a few of its turns look like a digit's,
and a network learns what the rest of such a scribble is only from many); things seen
in small photos (garments, bags, shoes: filled polygons, and smooth outlines shaded,
printed and seamed); and letters of ten scripts no matplotlib font has (South Indian and
other Indic scripts, Ethiopic, Hangul), Hebrew in three designs besides DejaVu's, and Latin
letters in handwriting-style fonts and stroke fonts, joined-up script among them (two shares
each, typed and drawn: a hand's letters pass for a digit more often than a typeface's; and
two more of the joined-up hands alone, drawn: their looped f, hooked c and curled r most of
all), stored as bitmaps by atlas.py, drawn by the wobbling hand. Traced and
hand-drawn pictures are on both sides, so that the pen tells nothing.

This generator is for training only; the benchmark's pictures (synthetic/) come from other
code, seeds and fonts: its Greek, Cyrillic and Hebrew are DejaVu Sans, which ALPHABET_FONTS
leaves out; its Devanagari and CJK are in no script here (Armenian, Georgian, Tifinagh,
Arabic, N'Ko, Lao, Canadian syllabics, from matplotlib's own fonts; the atlas's ten, from
Debian's fonts once, stored in the package: no system fonts needed; its handwriting fonts are
not the benchmark's).

The pictures a machine makes are cached (_cached): the first detector trained on it draws
and preprocesses them (~44,100, two to five minutes on 2 cores), the next ones read them.
"""
import contextlib
import functools
import hashlib
import importlib.util
import itertools
import multiprocessing
import os
import struct
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..core.kernels import available_cpus
from ..errors import DataError, ImageError
from ..fileio import atomic_write
from . import atlas
from .mnist import cache_root
from .preprocess import _crop, to_mnist, to_mnist_views
from .strokes import dilate, skeleton

VERSION = 9   # of these pictures (with the source of this module, preprocess and strokes:
              # the cache key)
PER_PROCESS = 500   # pictures: fewer are preprocessed in this process (starting one costs ~0.5 s)
BLOCK = 250         # pictures drawn, then preprocessed, at a time: two blocks and the copies on
                    # their way to the workers are a first train.py's memory peak (80 MB less than 1000)
PER_FAMILY = 8 / 78   # non-digit training pictures of each family's share for each digit one:
                      # 923 a share for the detector's 9,000 digits (8/3 a digit over 26 families)

SIZE = 64
PEN_SIZE = 112       # the canvas of the traced pictures
# letters that do not look like a digit (no O/D/Q ~ 0, I/l/T ~ 1 or 7, Z ~ 2, S ~ 5, G/b ~ 6,
# B ~ 8, g/q ~ 9)
LETTERS = "ACEFHKLMNPRUVWXYaefhkmnrtuvwxy"
SYMBOLS = "+=%&@#?!*$"   # not / | < > or ~: a 1, a 7 or a 2 in a hurry
SCRIPTS = {"armenian": [(0x531, 0x556), (0x561, 0x586)], "georgian": [(0x10D0, 0x10FA)],
           "tifinagh": [(0x2D30, 0x2D67)], "arabic": [(0x621, 0x64A)], "nko": [(0x7CA, 0x7EA)],
           "lao": [(0xE81, 0xEAE)], "canadian syllabics": [(0x1401, 0x166C)]}
DIGIT_LIKE = "ՕօՅԶզձՁვგძ\u0622\u0623\u0624\u0625\u0626\u0627ⵏⵔⵙⵀⵓⵍ"   # 0 3 2 8 and 1-like bars
# matplotlib's fonts (its own files: no system fonts), many hands of type for the same letter
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf",
         "DejaVuSansMono.ttf", "STIXGeneral.ttf", "STIXGeneralItalic.ttf", "cmr10.ttf", "cmss10.ttf",
         "cmti10.ttf")
# signs, arrows, pictographs and letters beyond ASCII (not the digit-like ∂ ð ʒ ß)
SIGNS = "∀∃∫∑∏√∞≠≤≥∇⊂⊃∩∪∈±×÷≈≡∠⊥∴←→↑↓↔↕⇐⇒⇑⇓↺↻"
PICTOGRAPHS = "✓✗✔✘☺☹☼★☆♥♠♣♦♪♫☀☁☂☃☎⌂✈✂✉ʃɛɔŋɣæœøþħɲʎ€£¥₩¢"
# the alphabets people most often try, not their digit-like letters (ο ι ζ δ σ ς; З О б з ч Ч
# Ь ь Ъ ъ; ו ן ז י ס), in every matplotlib font that has them but DejaVu Sans itself: the
# benchmark draws its Greek, Cyrillic and Hebrew in that one
ALPHABETS = {"greek": "αβγεηθλμξπρτυφχψωΓΔΘΛΞΠΣΦΨΩ",
             "cyrillic": "ДЖИЙКЛМПФЦШЩЫЭЮЯгджийклмпфцшщыэюя",
             "hebrew": "אבגדהחטכלמנעפצקרשתךםףץ"}
ALPHABET_FONTS = tuple(f for f in FONTS if f != "DejaVuSans.ttf") + (
    "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf", "DejaVuSerif-Bold.ttf", "STIXGeneralBol.ttf")
CHARACTERS = {"letters": LETTERS, "symbols": SYMBOLS, "signs": SIGNS,
              "pictographs": PICTOGRAPHS, **ALPHABETS}
DIGIT_STYLES = ("plain", "canvas", "traced", "low resolution", "drawn")
FAMILIES = ("letters", "handwritten letters", "symbols", "scripts", "glyphs", "doodles", "shapes",
            "scribbles", "blobs", "noise", "textures", "paper",
            "drawn letters", "drawn symbols", "drawn signs", "drawn pictographs", "drawn scripts",
            "typed letters", "typed signs", "typed pictographs", "typed scripts",
            "drawn alphabets", "typed alphabets", "pen scribbles", "things", "drawn atlas",
            "turning strokes", "photos of things", "drawn handwriting", "typed handwriting",
            "drawn joined-up", "wandering pen")
# PER_FAMILY times this; others once
SHARES = {"drawn handwriting": 2, "typed handwriting": 2, "drawn joined-up": 2, "wandering pen": 4}
TURNS = tuple(f for f in FAMILIES for _ in range(SHARES.get(f, 1)))   # the families' order of turns
NEGATIVES_PER_DIGIT = PER_FAMILY * len(TURNS)


@functools.lru_cache(maxsize=None)
def _font(size):
    return ImageFont.load_default(size=size)   # Pillow's own font: no system fonts needed


@functools.lru_cache(maxsize=None)
def _matplotlib_font(name, size):
    """One of matplotlib's own fonts (found without importing matplotlib), or None."""
    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return None


def _script_font(size):
    """matplotlib's DejaVu Sans, or None."""
    return _matplotlib_font("DejaVuSans.ttf", size)


@functools.lru_cache(maxsize=None)
def _script_letters():
    """{script: the letters of it that DejaVu Sans draws} (those it lacks render as boxes)."""
    font = _script_font(64)
    if font is None:
        return {}
    missing = np.asarray(_typed("\uffff", font))        # the font's "no such glyph"
    found = {}
    for name, ranges in SCRIPTS.items():
        chars = (chr(c) for a, b in ranges for c in range(a, b + 1))
        found[name] = "".join(c for c in chars if c not in DIGIT_LIKE
                              and not np.array_equal(np.asarray(_typed(c, font)), missing))
    return {k: v for k, v in found.items() if v}


def _glyph(char, font, size=150):
    """One character, bright on dark, cropped to its ink: (h, w) uint8 (None if no ink)."""
    img = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(img).text((size, size), char, font=font, fill=255, anchor="mm")
    a = np.asarray(img)
    return _crop(a) if a.any() else None


@functools.lru_cache(maxsize=None)
def _characters(kind):
    """[(char, font file)] of a kind of CHARACTERS that the font really draws: not its box for
    a glyph it lacks ("scripts": _script_letters, already so checked, in DejaVu Sans)."""
    if kind == "scripts":
        return [(c, "DejaVuSans.ttf") for c in "".join(_script_letters().values())]
    found = []
    for name in ALPHABET_FONTS if kind in ALPHABETS else FONTS:
        font = _matplotlib_font(name, 60)
        if font is None:
            continue
        missing = [_glyph(c, font, 60) for c in "\uffff\u0378\ue000"]
        for c in CHARACTERS[kind]:
            g = _glyph(c, font, 60)
            if g is not None and not any(m is not None and m.shape == g.shape and np.array_equal(m, g)
                                         for m in missing):
                found.append((c, name))
    return found


def _wobble(mask, rng, amount):
    """A hand's unsteadiness: each pixel of (H, W) bool moved by up to `amount` px along two
    slow random waves per axis."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    def wave():
        out = np.zeros((h, w), np.float32)
        for _ in range(2):
            k, phase, a = rng.uniform(1, 4) * np.pi / max(h, w), rng.uniform(0, 2 * np.pi), rng.uniform(0, np.pi)
            out += np.sin(k * (xx * np.cos(a) + yy * np.sin(a)) + phase)
        return out * amount / 2
    dy, dx = wave(), wave()
    return mask[np.clip(np.round(yy + dy), 0, h - 1).astype(int), np.clip(np.round(xx + dx), 0, w - 1).astype(int)]


def _on_paper(ink, rng, room=2):
    """(h, w) bool ink at a random place on light paper up to `room` times its size: PIL."""
    side = int(rng.integers(max(ink.shape) + 10, int(room * max(ink.shape)) + 21))
    paper = np.full((side, side), 255, np.uint8)
    y, x = int(rng.integers(0, side - ink.shape[0] + 1)), int(rng.integers(0, side - ink.shape[1] + 1))
    paper[y:y + ink.shape[0], x:x + ink.shape[1]][ink] = 0
    return Image.fromarray(paper)


def _scaled(bright, size):
    """A bright-on-dark (h, w) uint8 picture scaled so its longer side is `size`: bool ink."""
    s = size / max(bright.shape)
    shape = (max(1, round(bright.shape[1] * s)), max(1, round(bright.shape[0] * s)))
    return np.asarray(Image.fromarray(bright).resize(shape, Image.Resampling.BILINEAR)) > 110


def _drawn(bright, rng, sizes=(50, 160), room=1.5, ruled=False):
    """A bright-on-dark picture drawn by a wobbling hand: scaled to a random size, thinned to
    its skeleton after a wobble of up to a fortieth of the size, traced with a pen of one
    width (1 px up to a twelfth of the size), dark on light paper; ruled=True: a nearly
    straight stroke ruled straight (_ruled)."""
    size = int(rng.integers(*sizes))
    ink = np.pad(_scaled(bright, size), 10)
    lines = skeleton(_wobble(ink, rng, rng.uniform(0, size / 40)))
    if ruled:
        lines = _ruled(lines, rng)
    return _on_paper(_traced(lines, int(rng.integers(0, max(2, size // 25)))) > 0.5, rng, room)


def _kinds_of(kind):
    """The kinds of CHARACTERS a family of `kind` draws ("alphabets": each of ALPHABETS),
    those that some font draws ("atlas", "handwriting", "joined-up": the letters atlas.py
    stores, if any)."""
    if kind in atlas.GROUPS:
        return [kind] if atlas.groups_of(kind) else []
    return [k for k in (ALPHABETS if kind == "alphabets" else (kind,)) if _characters(k)]


def _character(kind, rng):
    """A random character of `kind` (of _kinds_of(kind), each as often) in a random font that
    draws it, bright on dark."""
    if kind in atlas.GROUPS:
        return atlas.random_letter(rng, kind)
    kinds = _kinds_of(kind)
    if len(kinds) > 1:
        kind = kinds[int(rng.integers(len(kinds)))]
    pairs = _characters(kind)
    char, name = pairs[int(rng.integers(len(pairs)))]
    return _glyph(char, _matplotlib_font(name, 150))


def drawn_digit_picture(digit, rng):
    """An MNIST digit (28, 28) uint8 drawn by a wobbling hand (_drawn), 40-160 px, on paper
    up to twice its size; a 1 drawn nearly straight, ruled straight (_ruled)."""
    return _drawn(_crop(digit), rng, sizes=(40, 160), room=2, ruled=True)


def written_variants(digits, labels, seed):
    """(n, 28, 28) uint8 MNIST digits and their labels -> a copy with a third of the 1s given a
    long flag and a quarter of the 0s a slash, as many people write them and few of MNIST's
    writers did: the outlier networks named a 1 with a long flag 7, and the detector refused a
    slashed 0 as often as one time in two. Drawn 4x as large with a pen of MNIST's width and
    shrunk by an area average, so that the new stroke is anti-aliased as MNIST's are."""
    rng = np.random.default_rng([seed, 1312])
    out = digits.copy()
    for i in np.flatnonzero(np.isin(labels, (0, 1))):
        if rng.random() >= (1 / 3 if labels[i] == 1 else 1 / 4):
            continue
        ys, xs = np.nonzero(digits[i] > 127)
        if len(ys) < 5:
            continue
        top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
        height = bottom - top + 1
        if labels[i] == 1:   # from the stroke's top, 30-60 degrees off it, to the left
            x, x_bottom = xs[ys <= top + 1].mean(), xs[ys >= bottom - 1].mean()
            lean = np.degrees(np.arctan2(x - x_bottom, height - 1.0))    # the stroke's, off upright
            # but no flatter than 35 degrees below the horizontal: a flatter bar is a 7's
            turn = min(rng.uniform(30, 60), 55 - lean)
            if turn < 20:
                continue
            down = np.radians(lean + turn)                              # the flag's, off upright
            length = height * rng.uniform(0.2, 0.35)
            line = [(x, top), (x - length * np.sin(down), top + length * np.cos(down))]
        else:                # across the 0, from its top right to its bottom left
            cx, half = (left + right) / 2, (right - left + 1) * rng.uniform(0.2, 0.4)
            line = [(cx + half, top + 0.05 * height), (cx - half, bottom - 0.05 * height)]
        big = Image.new("L", (112, 112), 0)
        ImageDraw.Draw(big).line([(4 * x + 1.5, 4 * y + 1.5) for x, y in line], fill=255,
                                 width=round(4 * rng.uniform(1.8, 2.6)))
        stroke = np.asarray(big.resize((28, 28), Image.Resampling.BOX))
        out[i] = np.maximum(out[i], stroke)
    return out


def _letter(rng, draw):
    draw.text((SIZE / 2 + rng.normal(0, 3), SIZE / 2 + rng.normal(0, 3)), str(rng.choice(list(LETTERS))),
              font=_font(int(rng.integers(9, 14)) * 4), fill=0, anchor="mm",
              stroke_width=int(rng.integers(0, 4)), stroke_fill=0)


def _shape(rng, draw):
    c, r = rng.uniform(26, 38, 2), rng.uniform(10, 24)
    width, fill = int(rng.integers(2, 6)), (0 if rng.integers(0, 2) else None)
    kind = rng.integers(0, 4)
    if kind == 0:                                     # square or rectangle
        ry = r * rng.uniform(0.3, 1.0)
        draw.rectangle([c[0] - r, c[1] - ry, c[0] + r, c[1] + ry], fill=fill, outline=0, width=width)
    elif kind in (1, 2):                              # a polygon of 3-7 corners, or a star
        k = int(rng.integers(3, 8))
        n = 2 * k if kind == 2 else k
        a = rng.uniform(0, 2 * np.pi) + np.arange(n) * 2 * np.pi / n
        radius = np.where(np.arange(n) % 2, r * 0.45, r) if kind == 2 else r * rng.uniform(0.6, 1, n)
        draw.polygon([tuple(p) for p in np.stack([c[0] + radius * np.cos(a), c[1] + radius * np.sin(a)], 1)],
                     fill=fill if kind == 1 else 0, outline=0, width=width)
    else:                                             # crossing bars: an X, a star of strokes
        for a in rng.uniform(0, np.pi) + np.arange(int(rng.integers(2, 4))) * rng.uniform(0.6, 1.4):
            d = np.array([np.cos(a), np.sin(a)]) * r
            draw.line([tuple(c - d), tuple(c + d)], fill=0, width=width)


def _scribble(rng, draw):
    width = int(rng.integers(2, 5))
    kind = rng.integers(0, 3)
    if kind == 0:                                     # a tangle of straight strokes
        for _ in range(int(rng.integers(5, 16))):
            draw.line([tuple(rng.uniform(6, 58, 2)), tuple(rng.uniform(6, 58, 2))], fill=0, width=width)
    elif kind == 1:                                   # a pen going round in loops, as a hand does
        p, heading, turn = rng.uniform(24, 40, 2), rng.uniform(0, 2 * np.pi), rng.normal(0, 0.12)
        pts = [tuple(p)]
        for _ in range(int(rng.integers(40, 120))):
            turn = np.clip(turn + rng.normal(0, 0.04), -0.3, 0.3)
            heading += turn
            p = np.clip(p + 3 * np.array([np.cos(heading), np.sin(heading)]), 4, 60)
            pts.append(tuple(p))
        draw.line(pts, fill=0, width=width, joint="curve")
    else:                                             # a wandering line
        p = rng.uniform(22, 42, 2)
        pts = [tuple(p)]
        for _ in range(int(rng.integers(15, 50))):
            p = np.clip(p + rng.normal(0, 7, 2), 4, 60)
            pts.append(tuple(p))
        draw.line(pts, fill=0, width=width, joint="curve")


def _blob(rng, draw):
    """A filled silhouette: overlapping ellipses and a polygon, like a thing seen from afar."""
    c = rng.uniform(26, 38, 2)
    for _ in range(int(rng.integers(2, 5))):
        r, o = rng.uniform(6, 20, 2), c + rng.normal(0, 7, 2)
        draw.ellipse([o[0] - r[0], o[1] - r[1], o[0] + r[0], o[1] + r[1]], fill=0)
    k = int(rng.integers(4, 9))
    a, radius = np.sort(rng.uniform(0, 2 * np.pi, k)), rng.uniform(10, 27, k)
    draw.polygon([tuple(p) for p in np.stack([c[0] + radius * np.cos(a), c[1] + radius * np.sin(a)], 1)], fill=0)


def _noise(rng):
    kind = rng.integers(0, 3)
    if kind == 0:
        return rng.uniform(0, 255, (SIZE, SIZE))
    if kind == 1:
        return rng.normal(128, 60, (SIZE, SIZE))
    return np.where(rng.random((SIZE, SIZE)) < rng.uniform(0.05, 0.4), 0, 255)


def _texture(rng):
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    period, a = rng.uniform(4, 14), rng.uniform(0, np.pi)
    u, v = xx * np.cos(a) + yy * np.sin(a), -xx * np.sin(a) + yy * np.cos(a)
    kind = rng.integers(0, 3)
    if kind == 0:
        on = np.sin(2 * np.pi * u / period) > 0
    elif kind == 1:
        on = (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    else:
        on = (u % period < 1.5) | (v % period < 1.5)
    return np.where(on, 0, 255)


def _polyline(points):
    """[(x, y), ...] -> (PEN_SIZE, PEN_SIZE) bool: a 1-px line through the points, in order."""
    img = Image.new("1", (PEN_SIZE, PEN_SIZE), 0)
    ImageDraw.Draw(img).line(points, fill=1)
    return np.asarray(img, dtype=bool)


def _turning_stroke(rng):
    """A pen stroke that turns a few corners, as a hand scribbles: 2-6 runs, straight or
    gently bent, joined at sharp turns, 1-px lines on a PEN_SIZE canvas. (Strokes that
    wander without corners are _scribble's and _pen_scribble's.)"""
    p, heading = rng.uniform(35, PEN_SIZE - 35, 2), rng.uniform(0, 2 * np.pi)
    points = [tuple(p)]
    for _ in range(int(rng.integers(2, 7))):
        bend = rng.normal(0, 0.04)
        for _ in range(int(rng.uniform(12, 45) / 3)):
            heading += bend + rng.normal(0, 0.05)
            p = np.clip(p + 3 * np.array([np.cos(heading), np.sin(heading)]), 8, PEN_SIZE - 8)
            points.append(tuple(p))
        heading += rng.choice([-1, 1]) * rng.uniform(0.6, 2.6)      # a corner: 35-150 degrees
    return _polyline(points)


def _wandering_pen(rng, keep=None):
    """A hand scribbling without aim: the pen's velocity a smoothed random walk (each step
    keeps 50-92% of the last one's, or `keep`), 20-110 steps, turning back at the edge of a
    PEN_SIZE canvas, 1-px lines. A few of its turns at 28x28 are as a digit's; all of them
    never are."""
    keep = rng.uniform(0.5, 0.92) if keep is None else keep
    p, v = rng.uniform(30, PEN_SIZE - 30, 2), rng.normal(0, 3, 2)
    points = [tuple(p)]
    for _ in range(int(rng.integers(20, 111))):
        # steady, v's spread on each axis is the noise's / sqrt(1 - keep^2): 2.5 / 0.6 px,
        # a hand's pace, however smooth the hand
        v = keep * v + rng.normal(0, 2.5 * np.sqrt(1 - keep ** 2) / 0.6, 2)
        p = p + v
        out = (p < 12) | (p > PEN_SIZE - 12)
        v[out] = -v[out]
        p = np.clip(p, 12, PEN_SIZE - 12)
        points.append(tuple(p))
    return _polyline(points)


def _traced(lines, r):
    """1-px lines (H, W) bool traced with a pen of radius r: (H, W) float ink."""
    return dilate(lines.astype(np.float32), r)[r:r + lines.shape[0], r:r + lines.shape[1]]


def _pen(lines, rng, widths=(0, 5)):
    """1-px lines (H, W) bool -> dark strokes of a random pen on light paper, a PIL picture.
    The pen is one width, or (one time in three) two widths split by a random line, as a
    pressure pen is wider where it presses."""
    ink = _traced(lines, int(rng.integers(*widths)))
    if rng.integers(0, 3) == 0:
        other = _traced(lines, int(rng.integers(*widths)))
        yy, xx = np.mgrid[0:lines.shape[0], 0:lines.shape[1]]
        a = rng.uniform(0, 2 * np.pi)
        side = (yy - lines.shape[0] / 2) * np.cos(a) + (xx - lines.shape[1] / 2) * np.sin(a) > 0
        ink = np.where(side, ink, other)
    return Image.fromarray(np.where(ink > 0.5, 0, 255).astype(np.uint8))


def _lines_of(bright, size, rng):
    """A bright-on-dark picture (PIL) scaled to `size` and sheared a little -> its skeleton
    on a PEN_SIZE canvas at a random place."""
    shear = rng.uniform(-0.3, 0.3)
    bright = bright.transform(bright.size, Image.Transform.AFFINE,
                              (1, shear, -shear * bright.size[1] / 2, 0, 1, 0),
                              resample=Image.Resampling.BILINEAR)
    ink = np.asarray(bright.resize((size, size), Image.Resampling.BILINEAR)) > 100
    canvas = np.zeros((PEN_SIZE, PEN_SIZE), bool)
    y, x = (int(v) for v in rng.integers(0, PEN_SIZE - size + 1, 2))
    canvas[y:y + size, x:x + size] = skeleton(ink)
    return canvas


def _by_hand(bright, rng):
    """A bright-on-dark picture traced with a random pen, dark on light."""
    return _pen(_lines_of(bright, int(rng.integers(60, 100)), rng), rng)


def _typed(char, font=None):
    """One character, bright on dark, 96 x 96 (Pillow's own font unless another is given)."""
    img = Image.new("L", (96, 96), 0)
    ImageDraw.Draw(img).text((48, 48), char, font=font or _font(72), fill=255, anchor="mm")
    return img


def _script_letter(rng):
    scripts = _script_letters()
    letters = scripts[list(scripts)[int(rng.integers(len(scripts)))]]
    return str(rng.choice(list(letters)))


def _glyph_lines(rng):
    """An invented character: 3-6 strokes, arcs, hooks and dots across the box, bright on dark
    (fewer or shorter strokes would often make a 1 or a 7)."""
    img = Image.new("L", (96, 96), 0)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 7))):
        kind = rng.integers(0, 4)
        p = rng.uniform(12, 84, 2)
        q = np.clip(p + rng.choice([-1, 1], 2) * rng.uniform(35, 60, 2), 8, 88)
        if kind == 0:
            draw.line([tuple(p), tuple(q)], fill=255, width=5)
        elif kind == 1:
            (x0, x1), (y0, y1) = sorted([p[0], q[0]]), sorted([p[1], q[1]])
            draw.arc([x0, y0, x1 + 8, y1 + 8], *sorted(rng.uniform(0, 360, 2)), fill=255, width=5)
        elif kind == 2:
            draw.line([tuple(p), tuple(q), tuple(q + rng.normal(0, 15, 2))], fill=255, width=5,
                      joint="curve")
        else:
            draw.ellipse([p[0] - 4, p[1] - 4, p[0] + 4, p[1] + 4], fill=255)
    return img


def _doodle_lines(rng):
    """A doodle, bright on dark, 96 x 96: a face, a flower, a tree, a fish, a cup, a cloud,
    a spiral, a heart, an arrow, a sun, a house, or 2-4 outlines (ellipses, polygons,
    zigzags) side by side and inside one another, as people draw when they try something
    that is no digit."""
    img = Image.new("L", (96, 96), 0)
    d = ImageDraw.Draw(img)
    c, r = rng.uniform(42, 54, 2), rng.uniform(22, 34)
    kind = rng.integers(0, 12)

    def ellipse(x, y, rx, ry, **kw):
        d.ellipse([x - rx, y - ry, x + rx, y + ry], outline=255, width=4, **kw)
    if kind == 0:                                              # a face
        ellipse(*c, r, r * rng.uniform(0.8, 1.1))
        for side in (-1, 1):
            ellipse(c[0] + side * r * 0.4, c[1] - r * 0.3, 3, 3, fill=255)
        d.arc([c[0] - r * 0.5, c[1] - r * 0.2, c[0] + r * 0.5, c[1] + r * 0.6], 20, 160, fill=255, width=4)
    elif kind == 1:                                            # a flower
        k = int(rng.integers(4, 8))
        for a in np.arange(k) * 2 * np.pi / k:
            ellipse(c[0] + r * 0.55 * np.cos(a), c[1] + r * 0.55 * np.sin(a), r * 0.3, r * 0.3)
        ellipse(*c, r * 0.22, r * 0.22)
    elif kind == 2:                                            # a tree: a crown on a trunk
        ellipse(c[0], c[1] - r * 0.4, r * 0.8, r * 0.6)
        d.line([(c[0] - 5, c[1] + r * 0.2), (c[0] - 5, c[1] + r)], fill=255, width=4)
        d.line([(c[0] + 5, c[1] + r * 0.2), (c[0] + 5, c[1] + r)], fill=255, width=4)
    elif kind == 3:                                            # a fish
        ellipse(c[0] - r * 0.2, c[1], r * 0.7, r * 0.4)
        d.polygon([(c[0] + r * 0.45, c[1]), (c[0] + r, c[1] - r * 0.4), (c[0] + r, c[1] + r * 0.4)],
                  outline=255, width=4)
    elif kind == 4:                                            # a cup with a handle
        d.rectangle([c[0] - r * 0.6, c[1] - r * 0.6, c[0] + r * 0.3, c[1] + r * 0.7], outline=255, width=4)
        d.arc([c[0], c[1] - r * 0.3, c[0] + r * 0.8, c[1] + r * 0.4], 270, 90, fill=255, width=4)
    elif kind == 5:                                            # a cloud: bumps in a row
        for k in range(int(rng.integers(3, 6))):
            ellipse(c[0] - r + k * r * 0.45, c[1] + rng.normal(0, 4), r * 0.35, r * 0.3)
    elif kind == 6:                                            # a spiral
        t = np.linspace(0, rng.uniform(3, 5) * np.pi, 80)
        d.line([tuple(p) for p in np.stack([c[0] + r * t / t[-1] * np.cos(t),
                                            c[1] + r * t / t[-1] * np.sin(t)], 1)], fill=255, width=4)
    elif kind == 8:                                            # a heart: two arcs and a point
        d.arc([c[0] - r, c[1] - r * 0.7, c[0], c[1] + r * 0.1], 150, 360, fill=255, width=4)
        d.arc([c[0], c[1] - r * 0.7, c[0] + r, c[1] + r * 0.1], 180, 30, fill=255, width=4)
        d.line([(c[0] - r * 0.93, c[1] - r * 0.1), (c[0], c[1] + r), (c[0] + r * 0.93, c[1] - r * 0.1)],
               fill=255, width=4, joint="curve")
    elif kind == 9:                                            # an arrow, any way
        a = rng.uniform(0, 2 * np.pi)
        u = np.array([np.cos(a), np.sin(a)])
        tip, tail = c + u * r, c - u * r
        d.line([tuple(tail), tuple(tip)], fill=255, width=4)
        for turn in (2.6, -2.6):
            v = np.array([np.cos(a + turn), np.sin(a + turn)]) * r * 0.5
            d.line([tuple(tip), tuple(tip + v)], fill=255, width=4)
    elif kind == 10:                                           # a sun: a ring and its rays
        ellipse(*c, r * 0.45, r * 0.45)
        k = int(rng.integers(6, 12))
        for a in rng.uniform(0, 1) + np.arange(k) * 2 * np.pi / k:
            u = np.array([np.cos(a), np.sin(a)])
            d.line([tuple(c + u * r * 0.6), tuple(c + u * r)], fill=255, width=4)
    elif kind == 11:                                           # a house: a box under a roof
        d.rectangle([c[0] - r * 0.7, c[1] - r * 0.1, c[0] + r * 0.7, c[1] + r], outline=255, width=4)
        d.line([(c[0] - r * 0.9, c[1]), (c[0], c[1] - r), (c[0] + r * 0.9, c[1])], fill=255, width=4)
        if rng.integers(0, 2):
            d.rectangle([c[0] - r * 0.2, c[1] + r * 0.4, c[0] + r * 0.2, c[1] + r], outline=255, width=4)
    else:                                                      # (7) outlines side by side, nested
        for _ in range(int(rng.integers(2, 5))):
            o, q = c + rng.normal(0, 12, 2), r * rng.uniform(0.3, 0.8)
            shape = rng.integers(0, 3)
            if shape == 0:
                ellipse(*o, q, q * rng.uniform(0.5, 1))
            elif shape == 1:
                k = int(rng.integers(3, 7))
                a = rng.uniform(0, 2 * np.pi) + np.arange(k) * 2 * np.pi / k
                d.polygon([tuple(p) for p in np.stack([o[0] + q * np.cos(a), o[1] + q * np.sin(a)], 1)],
                          outline=255, width=4)
            else:
                xs = np.linspace(o[0] - q, o[0] + q, int(rng.integers(4, 8)))
                d.line([(x, o[1] + (q / 2 if i % 2 else -q / 2)) for i, x in enumerate(xs)], fill=255, width=4)
    return img


def _pen_scribble(rng):
    """A scribble as a paint tool draws it: a smooth curve through 4-16 random points of a
    PEN_SIZE canvas (a closed loop one time in four), 1-px lines."""
    k = int(rng.integers(4, 17))
    points = rng.uniform(20, PEN_SIZE - 20, (k, 2))
    if rng.integers(0, 4) == 0:
        points = np.vstack([points, points[:1]])
    t = np.linspace(0, 1, len(points))
    fine = np.linspace(0, 1, 40 * len(points))
    # smooth: the polyline through the points, averaged along the path over 25 steps
    path = np.stack([np.interp(fine, t, points[:, i]) for i in range(2)], 1)
    kernel = np.ones(25) / 25
    path = np.stack([np.convolve(np.pad(path[:, i], 12, mode="edge"), kernel, "valid") for i in range(2)], 1)
    return _polyline([tuple(p) for p in path])


def _thing(rng):
    """A thing seen in a small photo, not drawn: a garment, a bag or a shoe as a filled
    silhouette, shaded and textured, bright on dark or dark on light."""
    img = Image.new("L", (SIZE, SIZE), 0)
    d = ImageDraw.Draw(img)
    c, h, w = rng.uniform(29, 35), rng.uniform(40, 56), rng.uniform(16, 40)
    top, bottom = SIZE / 2 - h / 2, SIZE / 2 + h / 2
    kind = rng.integers(0, 5)
    if kind == 0:                                       # trousers: two legs under a waistband
        gap = rng.uniform(1, 5)
        d.polygon([(c - w / 2, top), (c + w / 2, top), (c + w / 2 + 2, bottom), (c + gap, bottom),
                   (c, top + h * rng.uniform(0.2, 0.4)), (c - gap, bottom), (c - w / 2 - 2, bottom)], fill=255)
    elif kind == 1:                                     # a dress or a coat: a flaring body
        d.polygon([(c - w / 4, top), (c + w / 4, top), (c + w / 2 + rng.uniform(0, 8), bottom),
                   (c - w / 2 - rng.uniform(0, 8), bottom)], fill=255)
    elif kind == 2:                                     # a shirt: a body and two sleeves
        sleeve = rng.uniform(0.3, 0.9) * h
        d.polygon([(c - w / 2, top), (c + w / 2, top), (c + w / 2 + 10, top + sleeve), (c + w / 2, top + sleeve),
                   (c + w / 2, bottom), (c - w / 2, bottom), (c - w / 2, top + sleeve),
                   (c - w / 2 - 10, top + sleeve)], fill=255)
    elif kind == 3:                                     # a bag: a box and its handle
        d.rectangle([c - w / 2 - 4, SIZE / 2, c + w / 2 + 4, bottom], fill=255)
        d.arc([c - w / 3, SIZE / 2 - h / 3, c + w / 3, SIZE / 2 + h / 3], 180, 360, fill=255,
              width=int(rng.integers(2, 5)))
    else:                                               # a shoe: a wedge, its heel up or down
        y = SIZE / 2 + rng.uniform(-6, 10)
        d.polygon([(8, y + 12), (56, y + 12), (56, y - rng.uniform(0, 12)), (30, y - 2),
                   (14, y - rng.uniform(6, 16))], fill=255)
    a = np.asarray(img, np.float32) / 255
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    shade = rng.uniform(0.4, 1) + rng.uniform(-0.3, 0.3) * (xx - SIZE / 2) / SIZE
    texture = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * (xx * np.cos(rng.uniform(0, np.pi)) + yy) / rng.uniform(3, 9))
    a = np.clip(a * shade * texture * 255 + rng.normal(0, 4, a.shape), 0, 255)
    return Image.fromarray((a if rng.integers(0, 2) else 255 - a).astype(np.uint8))


def _silhouette(rng, draw, size):
    """One of eight things people photograph, filled, on a `size` canvas: trousers, a dress,
    a top with short or long sleeves, a bag, a sneaker, an ankle boot, a sandal's straps."""
    c, h = size / 2 + rng.uniform(-4, 4), rng.uniform(0.7, 0.92) * size
    top, bottom = size / 2 - h / 2, size / 2 + h / 2
    kind = int(rng.integers(0, 8))
    if kind == 0:                                        # trousers: two long legs, a narrow gap
        w, gap, flare = rng.uniform(0.27, 0.44) * size, rng.uniform(1, 6), rng.uniform(-4, 8)
        crotch = top + h * rng.uniform(0.15, 0.35)
        draw.polygon([(c - w / 2, top), (c + w / 2, top), (c + w / 2 + flare, bottom), (c + gap, bottom),
                      (c, crotch), (c - gap, bottom), (c - w / 2 - flare, bottom)], fill=255)
    elif kind == 1:                                      # a dress: a waist, a flaring skirt
        w, hem = rng.uniform(0.11, 0.23) * size, rng.uniform(0.16, 0.47) * size
        waist = top + h * rng.uniform(0.3, 0.5)
        draw.polygon([(c - w / 2, top), (c + w / 2, top), (c + w / 2.6, waist), (c + hem / 2, bottom),
                      (c - hem / 2, bottom), (c - w / 2.6, waist)], fill=255)
        if rng.integers(0, 2):                           # ... and short sleeves
            for side in (-1, 1):
                draw.polygon([(c + side * w / 2, top), (c + side * (w / 2 + rng.uniform(6, 16)),
                              top + rng.uniform(10, 40)), (c + side * w / 2, top + 12)], fill=255)
    elif kind in (2, 3):                                 # a top: a body and two sleeves
        w, h = rng.uniform(0.34, 0.62) * size, rng.uniform(0.47, 0.86) * size
        top, bottom = size / 2 - h / 2, size / 2 + h / 2
        arm = rng.uniform(0.11, 0.47) * size if kind == 2 else rng.uniform(0.39, 0.78) * size
        a, cuff = rng.uniform(0.3, 1.3), 0.11 * size
        for side in (-1, 1):
            x = c + side * w / 2
            end = (x + side * arm * np.sin(a), top + 2 + arm * np.cos(a))
            draw.polygon([(x, top + 2), end, (end[0] - side * cuff * np.cos(a), end[1] + cuff * np.sin(a)),
                          (x, top + 0.2 * size)], fill=255)
        draw.rectangle([c - w / 2, top, c + w / 2, bottom], fill=255)
        draw.ellipse([c - 0.08 * size, top - 0.05 * size, c + 0.08 * size, top + 0.06 * size], fill=0)
    elif kind == 4:                                      # a bag: a rounded box and its handle
        w, bh = rng.uniform(0.47, 0.86) * size, rng.uniform(0.31, 0.62) * size
        y = size / 2 - bh / 2 + 0.08 * size
        draw.rounded_rectangle([c - w / 2, y, c + w / 2, y + bh], radius=int(rng.integers(2, 14)), fill=255)
        r = rng.uniform(0.1, 0.45) * w
        draw.arc([c - r, y - r * rng.uniform(0.6, 1.4), c + r, y + r * 0.6], 180, 360, fill=255,
                 width=int(rng.integers(3, 9)))
    else:                                                # footwear, side on
        y, L = size / 2 + rng.uniform(0, 0.2) * size, rng.uniform(0.7, 0.94) * size
        x = size / 2 - L / 2
        if kind == 5:                                    # a sneaker
            draw.polygon([(x, y + 16), (x + L, y + 16), (x + L, y + 4), (x + L * 0.55, y - 6),
                          (x + L * 0.35, y - rng.uniform(14, 30)), (x + 6, y - rng.uniform(18, 34)), (x, y)],
                         fill=255)
        elif kind == 6:                                  # an ankle boot
            shaft = rng.uniform(0.4, 0.62) * size
            draw.polygon([(x, y + 14), (x + L, y + 14), (x + L, y), (x + L * 0.5, y - 10),
                          (x + L * 0.45, y - shaft), (x + 4, y - shaft), (x, y - 10)], fill=255)
        else:                                            # a sandal: a sole, straps, a heel
            draw.line([(x, y + 12), (x + L, y + 12)], fill=255, width=int(rng.integers(4, 10)))
            width = int(rng.integers(3, 8))
            for _ in range(int(rng.integers(2, 6))):
                a, b = rng.uniform(x, x + L, 2)
                draw.line([(a, y + 10), ((a + b) / 2, y - rng.uniform(10, 45)), (b, y + 10)], fill=255,
                          width=width)
            if rng.integers(0, 2):
                draw.polygon([(x + L - 14, y + 12), (x + L, y + 12), (x + L - 4, y + 40), (x + L - 10, y + 40)],
                             fill=255)


def _photo_of_thing(rng):
    """A thing in a small photo (_silhouette): a soft outline, shaded by a slow random field,
    sometimes striped, spotted or seamed, its edge darker; bright on dark three times in four
    (as a product photo cut out), 28-90 px. Not a stroke anywhere, though preprocessing may
    thin it into one."""
    size = 128
    img = Image.new("L", (size, size), 0)
    _silhouette(rng, ImageDraw.Draw(img), size)
    img = img.rotate(float(rng.normal(0, 4)), resample=Image.Resampling.BILINEAR)
    mask = np.asarray(img.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.5))), np.float32) / 255
    field = Image.fromarray(rng.normal(0, 1, (4, 4)).astype(np.float32), mode="F")
    shade = rng.uniform(0.35, 1.0) + rng.uniform(0.05, 0.25) * np.asarray(
        field.resize((size, size), Image.Resampling.BICUBIC))
    yy, xx = np.mgrid[0:size, 0:size]
    pattern = rng.integers(0, 4)
    if pattern == 1:                                     # stripes
        period, a = rng.uniform(5, 16), rng.uniform(0, np.pi)
        wave = np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period)
        shade = shade * (1 - rng.uniform(0.2, 0.6) * (wave > 0))
    elif pattern == 2:                                   # spots
        for _ in range(int(rng.integers(5, 40))):
            (y, x), r = rng.uniform(0, size, 2), rng.uniform(2, 8)
            shade = shade * (1 - rng.uniform(0.3, 0.8) * (((yy - y) ** 2 + (xx - x) ** 2) < r * r))
    elif pattern == 3:                                   # seams
        for _ in range(int(rng.integers(1, 4))):
            x, slope = rng.uniform(0.23, 0.77) * size, rng.uniform(-0.2, 0.2)
            shade = shade * (1 - 0.5 * (np.abs(xx - x - slope * (yy - size / 2)) < rng.uniform(0.7, 2)))
    edge = np.clip(4 * mask * (1 - mask), 0, 1)
    a = np.clip(mask * shade * (1 - rng.uniform(0, 0.5) * edge) * 255 + rng.normal(0, 3, (size, size)), 0, 255)
    photo = Image.fromarray((a if rng.integers(0, 4) else 255 - a).astype(np.uint8))
    return photo.resize((int(rng.integers(28, 90)),) * 2, Image.Resampling.BILINEAR)


def _paper(rng):
    """Paper with no drawing: a grain, a few specks or short marks, a shadow across it or a
    soft smudge on it; one time in four a smudge with a speck at most (a smudge alone is what
    preprocessing stretches into a fuzzy blob, the shape of no digit)."""
    a = rng.normal(rng.uniform(190, 250), rng.uniform(1, 15), (SIZE, SIZE))
    shade = rng.integers(0, 4)
    for _ in range(int(rng.integers(0, 2) if shade == 3 else rng.integers(1, 8))):
        y, x = rng.integers(0, SIZE, 2)
        h, w = rng.integers(1, 4, 2)
        a[y:y + h, x:x + w] -= rng.uniform(30, 180)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    if shade == 1:
        a -= rng.uniform(10, 50) * (np.cos(rng.uniform(0, np.pi)) * xx + np.sin(rng.uniform(0, np.pi)) * yy) / SIZE
    elif shade >= 2:
        c, r = rng.uniform(10, SIZE - 10, 2), rng.uniform(4, 20)
        a -= rng.uniform(10, 60) * np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / r ** 2)
    return a


def nondigit_picture(family, rng):
    """A grey PIL picture of `family`: dark on light, like a canvas drawing."""
    if family == "handwritten letters":
        return _by_hand(_typed(str(rng.choice(list(LETTERS)))), rng)
    if family == "symbols":
        return _by_hand(_typed(str(rng.choice(list(SYMBOLS)))), rng)
    if family == "scripts":
        if not _script_letters():     # no matplotlib font: invented glyphs instead
            return _by_hand(_glyph_lines(rng), rng)
        return _by_hand(_typed(_script_letter(rng), _script_font(64)), rng)
    if family == "glyphs":
        return _by_hand(_glyph_lines(rng), rng)
    if family == "doodles":
        return _by_hand(_doodle_lines(rng), rng)
    if family.startswith(("drawn ", "typed ")):
        how, kind = family.split(" ")
        if not _kinds_of(kind):                                   # no matplotlib fonts
            return _by_hand(_glyph_lines(rng), rng)
        bright = _character(kind, rng)
        if how == "drawn":
            return _drawn(bright, rng)
        return _on_paper(_scaled(bright, int(rng.integers(50, 160))), rng)
    if family == "pen scribbles":
        return _pen(_pen_scribble(rng), rng, widths=(0, 7))
    if family == "things":
        return _thing(rng)
    if family == "photos of things":
        return _photo_of_thing(rng)
    if family == "wandering pen":
        return _pen(_wandering_pen(rng), rng, widths=(0, 6))
    if family == "turning strokes":
        return _pen(_turning_stroke(rng), rng, widths=(0, 8))
    if family in ("noise", "textures", "paper"):
        a = {"noise": _noise, "textures": _texture, "paper": _paper}[family](rng)
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    img = Image.new("L", (SIZE, SIZE), 255)
    {"letters": _letter, "shapes": _shape, "scribbles": _scribble, "blobs": _blob}[family](rng, ImageDraw.Draw(img))
    return img.rotate(float(rng.uniform(-20, 20)), resample=Image.Resampling.BILINEAR, fillcolor=255)


def digit_picture(digit, rng):
    """An MNIST digit (28, 28) uint8 drawn as a person might: dark ink on light paper, of a
    random size and place, with a thinner or thicker pen."""
    size = int(rng.integers(30, 56))
    ink = Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR)
    pen = rng.integers(0, 3)
    if pen:
        ink = ink.filter(ImageFilter.MaxFilter(3) if pen == 1 else ImageFilter.MinFilter(3))
    paper = Image.new("L", (SIZE, SIZE), 255)
    x, y = (int(v) for v in rng.integers(0, SIZE - size + 1, 2))
    paper.paste(Image.fromarray(255 - np.asarray(ink)), (x, y))
    return paper


def low_resolution_digit_picture(digit, rng):
    """An MNIST digit (28, 28) uint8 as a tiny scan or thumbnail: shrunk to 7-12 px, dark
    ink on light paper (preprocessing scales it back up, blocky and blurred)."""
    side = int(rng.integers(7, 13))
    return Image.fromarray(255 - np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BOX)))


def traced_digit_picture(digit, rng):
    """An MNIST digit (28, 28) uint8 traced along its skeleton as a person might with a paint
    tool's 1-px pencil, a fine pen, a marker or a pen of changing width (up to a twelfth of
    the digit's size: a marker, not a blob)."""
    size = int(rng.integers(50, 104))
    lines = _ruled(_lines_of(Image.fromarray(digit), size, rng), rng)
    return _pen(lines, rng, widths=(0, size // 12 + 1))


def _ruled(lines, rng, bend=0.05):
    """A skeleton that is one nearly straight stroke (a 1: no other MNIST digit's is, in 6,000)
    -> the stroke ruler-straight, as a line tool draws it, at its own slant or (one time in
    two) upright; any other skeleton as it is. Without them a 1 drawn with a line tool, upright,
    was "not a digit" (and with them among the traced digits alone, too few: one seed's
    networks still refused a quarter of the upright ones)."""
    ys, xs = np.nonzero(lines)
    points = np.c_[ys, xs].astype(np.float64)
    centre = points.mean(axis=0)
    axis = np.linalg.svd(points - centre, full_matrices=False)[2]     # (along, across) directions
    along, across = (points - centre) @ axis[0], (points - centre) @ axis[1]
    if np.abs(across).max() > bend * max(np.ptp(along), 1):
        return lines
    direction = axis[0] if rng.integers(0, 2) else np.array([1.0, 0.0])
    ends = [centre + t * direction for t in (along.min(), along.max())]
    img = Image.new("1", lines.shape[::-1], 0)
    ImageDraw.Draw(img).line([(x, y) for y, x in ends], fill=1)
    return np.asarray(img, dtype=bool)


def preprocessed(pictures, n, views=False):
    """(n, 28, 28) uint8: each of the n pictures (an iterable, drawn as it is consumed) as the
    network sees it after preprocess.to_mnist (a picture it would refuse as blank gives zeros);
    with `views`, (n, 2, 28, 28): both of preprocess.to_mnist_views' views.

    BLOCK pictures at a time (not all of them, and their copies on the way to other processes,
    in memory at once), each block shared out over the cores (~4-8 ms a picture;
    separate processes, since preprocessing is Python-bound) while this one draws the next
    block, and put back in order: the result is the same as one by one."""
    out = np.zeros((n, 2, 28, 28) if views else (n, 28, 28), dtype=np.uint8)
    one = functools.partial(_preprocessed_one, views=views)
    workers = min(available_cpus(), n // PER_PROCESS)
    # "spawn": fresh processes, never a fork of a process running kernel threads
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 1 else None)

    def put(start, block, results):
        nonlocal pool
        if results is not None:
            try:
                out[start:start + len(block)] = list(results)
                return
            except (OSError, BrokenProcessPool):   # no processes to be had: this one does it
                if pool is not None:
                    pool.shutdown()
                pool = None
        out[start:start + len(block)] = [one(picture) for picture in block]

    try:
        pictures, pending = iter(pictures), None
        for start in range(0, n, BLOCK):
            block = list(itertools.islice(pictures, BLOCK))    # while the pool does the last one
            results = None
            if pool is not None:
                try:   # one share of the block per process, in order
                    results = pool.map(one, block, chunksize=-(-len(block) // workers))
                except (OSError, BrokenProcessPool):
                    pool.shutdown()
                    pool = None
            if pending is not None:
                put(*pending)
            pending = (start, block, results)
        if pending is not None:
            put(*pending)
    finally:
        if pool is not None:
            pool.shutdown()
    return out


def _preprocessed_one(picture, views=False):
    try:
        return np.round(np.stack(to_mnist_views(picture)) * 255 if views else to_mnist(picture) * 255
                        ).astype(np.uint8)
    except ImageError:   # "blank": nothing for the network to see
        return np.zeros((2, 28, 28) if views else (28, 28), dtype=np.uint8)


def make_nondigits(n, seed):
    """(n, 28, 28) uint8 preprocessed non-digits, the families in turn (TURNS), seeded."""
    rng = np.random.default_rng([seed, 1310])
    return preprocessed((nondigit_picture(TURNS[i % len(TURNS)], rng) for i in range(n)), n)


def mean_per_family(values):
    """{family: the mean of `values` over its pictures} for values (n,) of make_nondigits'
    pictures, in their order (a family of SHARES has more than one turn)."""
    family = np.array(TURNS)[np.arange(len(values)) % len(TURNS)]
    return {f: float(np.mean(values[family == f])) for f in FAMILIES}


def make_digit_pictures(digits, seed, style="canvas", views=False):
    """(n, 28, 28) uint8 preprocessed drawings of the given MNIST digits, seeded: "plain"
    (the digit itself as a picture), "canvas" (digit_picture), "traced", "low resolution" or
    "drawn"; (n, 2, 28, 28) with `views` (preprocessed())."""
    rng = np.random.default_rng([seed, 1311])
    draw = {"plain": lambda d: Image.fromarray(d), "canvas": lambda d: digit_picture(d, rng),
            "traced": lambda d: traced_digit_picture(d, rng),
            "low resolution": lambda d: low_resolution_digit_picture(d, rng),
            "drawn": lambda d: drawn_digit_picture(d, rng)}[style]
    return preprocessed((draw(d) for d in digits), len(digits), views)


def _source_hash():
    """What the pictures are made by: this module, preprocessing, strokes and the letter
    atlas, byte for byte (an edited generator never reads pictures an older one cached)."""
    from . import preprocess, strokes
    h = hashlib.sha256()
    for module in (__file__, preprocess.__file__, strokes.__file__, atlas.__file__, atlas.PATH):
        if Path(module).is_file():
            h.update(Path(module).read_bytes())
    return h.hexdigest()


class StoredPictures:
    """A (k, 28, 28) uint8 array in an uncompressed .npz file, read a slice at a time: the
    detector's ~44,100 training pictures are never all in memory (train.py's peak). Slicing
    with a step of 1 reads just those rows, straight from the archive (zipfile's own seek
    reads and drops everything before the slice, ever larger temporaries that the C heap then
    keeps); any other index reads the whole array first."""

    def __init__(self, path, name):
        self.path, self.member = path, name + ".npy"
        with zipfile.ZipFile(path) as z, z.open(self.member) as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            self.shape, fortran_order, self.dtype = read_header(f)
            info = z.getinfo(self.member)
            if fortran_order or info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{path}: {name} is not stored as plain C-ordered rows")
            in_member = f.tell()
        self._row = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        if info.file_size < in_member + self.shape[0] * self._row:
            raise ValueError(f"{path}: {name} is shorter than its header says")
        with open(path, "rb") as raw:       # the member's bytes start after its local header
            raw.seek(info.header_offset)
            local = raw.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise ValueError(f"{path}: {name}'s local header is damaged")
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        self._start = info.header_offset + 30 + name_length + extra_length + in_member

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, index):
        if not (isinstance(index, slice) and index.step in (None, 1)):
            return self[:][index]
        start, stop, _ = index.indices(len(self))
        out = np.empty((max(0, stop - start), *self.shape[1:]), self.dtype)
        if not out.size:
            return out
        try:
            with open(self.path, "rb") as f:
                f.seek(self._start + start * self._row)
                complete = f.readinto(memoryview(out).cast("B")) == out.nbytes
        except OSError as e:
            raise DataError(f"cannot read the detector's cached pictures {self.path}: {e.strerror}") from None
        if not complete:
            raise DataError(f"the detector's cached pictures {self.path} changed while in use: run again")
        return out

    def __array__(self, dtype=None, copy=None):
        return self[:] if dtype is None else self[:].astype(dtype)


STALE_AFTER = 24 * 3600   # seconds: another generator's cached pictures unread this long are removed


def _generator_tag():
    """A short name for the code that makes the pictures (VERSION and _source_hash)."""
    return hashlib.sha256(f"{VERSION}:{_source_hash()}".encode()).hexdigest()[:12]


def _prune(folder, tag, now):
    """Remove the cached pictures that another generator made (an older version of this code,
    named "<name>-<its tag>-<key>.npz" or, older still, without a tag) and that no run has read
    for STALE_AFTER, and writes left unfinished as long: this code never reads them, and each
    set is tens of megabytes. Another checkout's, read within the day, are kept."""
    for path in [*folder.glob("*.npz"), *folder.glob(".*.part")]:
        if path.suffix == ".npz" and path.stem.rsplit("-", 2)[1:2] == [tag]:
            continue
        try:
            if now - path.stat().st_mtime > STALE_AFTER:
                path.unlink()
        except OSError:                    # (gone already, or a read-only cache)
            pass


def _cached(name, names, digits, seed, make, on_prepare=None, count=0):
    """make() -> dict of uint8 (k, 28, 28) arrays called `names`, kept in the per-user cache
    (data.mnist.cache_root() / "openset"), keyed by VERSION, the generator's source, `name`,
    the seed and the digits' bytes, and returned as StoredPictures read from there (the
    arrays themselves where the cache cannot be written); on_prepare(count) is called when
    they must be made. A cached file whose arrays are not what make() would give (names,
    dtypes, picture size) is made again. Reading a file marks it used (its mtime); other
    generators' files unused for STALE_AFTER are removed (_prune)."""
    digits = np.ascontiguousarray(digits)
    tag = _generator_tag()
    key = hashlib.sha256(f"{tag}:{name}:{seed}:{digits.shape}:".encode() + digits.tobytes()).hexdigest()[:20]
    folder = cache_root() / "openset"
    path = folder / f"{name}-{tag}-{key}.npz"
    _prune(folder, tag, time.time())

    def stored():
        arrays = {k: StoredPictures(path, k) for k in names}
        with zipfile.ZipFile(path) as z:
            if sorted(z.namelist()) != sorted(k + ".npy" for k in names):
                raise ValueError(f"{path} holds other arrays")
        if not all(a.dtype == np.uint8 and a.shape[1:] == (28, 28) for a in arrays.values()):
            raise ValueError(f"{path} holds other pictures")
        return arrays
    try:
        arrays = stored()
        with contextlib.suppress(OSError):
            os.utime(path)                 # used: not stale (_prune)
        return arrays
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass
    if on_prepare is not None:
        on_prepare(count)
    arrays = make()
    try:
        with atomic_write(path) as f:
            np.savez(f, **arrays)
        return stored()           # (and the arrays made are let go)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):   # no writable cache: the
        return arrays                                             # next run makes them again


def detector_examples(digits, n, seed=0, on_prepare=None, labels=None):
    """(positives (n, 28, 28), negatives (~NEGATIVES_PER_DIGIT * n, 28, 28)) uint8, preprocessed,
    for the open-set detector: n digits (a third as MNIST drew them, a third drawn by a
    wobbling hand, the rest in equal parts drawn as canvas pictures, traced and at low
    resolution; given their labels, some 1s flagged and 0s slashed: written_variants) and the
    non-digit pictures (the families in turn).

    Preprocessing thousands of pictures takes a while (~2-4 ms each), so they are cached per
    user (_cached); on_prepare(count) is called when they must be made."""
    digits = digits[:n]
    n = len(digits)
    if labels is not None:
        digits = written_variants(digits, labels[:n], seed)
    third, ninth = n // 3, n // 9
    cuts = [0, third, third + ninth, third + 2 * ninth, n - third, n]

    def make():
        return {"positives": np.concatenate([
                    make_digit_pictures(digits[a:b], seed, style) for a, b, style in
                    zip(cuts, cuts[1:], DIGIT_STYLES)]),
                "negatives": make_nondigits(round(NEGATIVES_PER_DIGIT * n), seed)}
    count = n + round(NEGATIVES_PER_DIGIT * n)
    arrays = _cached("examples", ("positives", "negatives"), digits, seed, make, on_prepare, count)
    return arrays["positives"], arrays["negatives"]


def calibration_examples(digits, styles=DIGIT_STYLES, seed=7, on_prepare=None):
    """{style: (k, 28, 28) uint8} the k held-out digits in each of `styles` (of DIGIT_STYLES),
    preprocessed as predict.py would, and {style + " as drawn": ...} their views as drawn
    (preprocess.to_mnist_views; cached per user, as detector_examples, on_prepare likewise)."""
    def make():
        arrays = {}
        for style in styles:
            both = make_digit_pictures(digits, seed, style, views=True)
            arrays[style], arrays[style + " as drawn"] = both[:, 0], both[:, 1]
        return arrays
    return _cached("calibration-" + "-".join(styles).replace(" ", "_"),
                   [*styles, *(style + " as drawn" for style in styles)], digits, seed, make,
                   on_prepare, len(styles) * len(digits))
