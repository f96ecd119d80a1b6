"""Small pictures drawn like people draw on a canvas (dark ink on light paper): digits from
MNIST and things that are not digits. Preprocessed like any picture (preprocess.to_mnist),
they teach the open-set detector (apps/openset.py) what a digit and a non-digit look like
AFTER preprocessing, which is all the network ever sees.

Non-digits come in six families: letters (not the digit-like ones), shapes, scribbles,
filled blobs, noise and textures. Pictures are small (SIZE px) so that preprocessing them is
quick. This generator is for training only; the benchmark's non-digits (synthetic/
nondigits.py) come from other code, at another size, with other seeds.
"""
import functools
import hashlib
import io
import itertools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..core.kernels import available_cpus
from ..errors import ImageError
from ..fileio import atomic_write
from .mnist import cache_root
from .preprocess import to_mnist

VERSION = 6   # of these pictures and their preprocessing: part of the cache key
PER_PROCESS = 500   # pictures: fewer are preprocessed in this process (starting one costs ~0.5 s)
BLOCK = 1000        # pictures drawn, then preprocessed, at a time

SIZE = 64
# letters that do not look like a digit (no O/D/Q ~ 0, I/l/T ~ 1 or 7, Z ~ 2, S ~ 5, G/b ~ 6,
# B ~ 8, g/q ~ 9)
LETTERS = "ACEFHKLMNPRUVWXYaefhkmnrtuvwxy"
FAMILIES = ("letters", "shapes", "scribbles", "blobs", "noise", "textures")


@functools.lru_cache(maxsize=None)
def _font(size):
    return ImageFont.load_default(size=size)   # Pillow's own font: no system fonts needed


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
    if rng.integers(0, 2):                            # a tangle of straight strokes
        for _ in range(int(rng.integers(5, 16))):
            draw.line([tuple(rng.uniform(6, 58, 2)), tuple(rng.uniform(6, 58, 2))], fill=0, width=width)
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


def nondigit_picture(family, rng):
    """A SIZE x SIZE grey PIL picture of `family`: dark on light, like a canvas drawing."""
    if family in ("noise", "textures"):
        a = _noise(rng) if family == "noise" else _texture(rng)
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


def preprocessed(pictures, n):
    """(n, 28, 28) uint8: each of the n pictures (an iterable, drawn as it is consumed) as the
    network sees it after preprocess.to_mnist (a picture it would refuse as blank gives zeros).

    BLOCK pictures at a time (not all of them, and their copies on the way to other processes,
    in memory at once), each block shared out over the cores (~4-5 ms a picture;
    separate processes, since preprocessing is Python-bound) and put back in order: the result
    is the same as one by one."""
    out = np.zeros((n, 28, 28), dtype=np.uint8)
    workers = min(available_cpus(), n // PER_PROCESS)
    # "spawn": fresh processes, never a fork of a process running kernel threads
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 1 else None)
    try:
        pictures = iter(pictures)
        for start in range(0, n, BLOCK):
            block = list(itertools.islice(pictures, BLOCK))
            if pool is not None:
                try:   # one share of the block per process, in order
                    out[start:start + len(block)] = list(pool.map(_preprocessed_one, block,
                                                                  chunksize=-(-len(block) // workers)))
                    continue
                except (OSError, BrokenProcessPool):   # no processes to be had: this one does it
                    pool.shutdown()
                    pool = None
            out[start:start + len(block)] = [_preprocessed_one(picture) for picture in block]
    finally:
        if pool is not None:
            pool.shutdown()
    return out


def _preprocessed_one(picture):
    try:
        return np.round(to_mnist(picture) * 255).astype(np.uint8)
    except ImageError:   # "blank": nothing for the network to see
        return np.zeros((28, 28), dtype=np.uint8)


def make_nondigits(n, seed):
    """(n, 28, 28) uint8 preprocessed non-digits, the families in turn, seeded."""
    rng = np.random.default_rng([seed, 1310])
    return preprocessed((nondigit_picture(FAMILIES[i % len(FAMILIES)], rng) for i in range(n)), n)


def make_digit_pictures(digits, seed):
    """(n, 28, 28) uint8 preprocessed canvas drawings of the given MNIST digits, seeded."""
    rng = np.random.default_rng([seed, 1311])
    return preprocessed((digit_picture(d, rng) for d in digits), len(digits))


def detector_examples(digits, n, seed=0, on_prepare=None):
    """(positives, negatives), each (n, 28, 28) uint8, for the open-set detector: n digits
    (the first half as they are, the second half drawn as canvas pictures and preprocessed)
    and n preprocessed non-digit pictures.

    Preprocessing thousands of pictures takes a while (~4 ms each), so the result is kept in
    the per-user cache (data.mnist.cache_root() / "openset"), keyed by VERSION, the seed and
    the digits' bytes; on_prepare(n) is called when they must be made.
    """
    digits = np.ascontiguousarray(digits[:n])
    key = hashlib.sha256(f"{VERSION}:{seed}:{n}:".encode() + digits.tobytes()).hexdigest()[:20]
    path = cache_root() / "openset" / f"examples-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as cached:
            return cached["positives"], cached["negatives"]
    except (OSError, ValueError, KeyError):
        pass
    if on_prepare is not None:
        on_prepare(2 * n - n // 2)
    positives = np.concatenate([digits[:n // 2], make_digit_pictures(digits[n // 2:], seed)])
    negatives = make_nondigits(n, seed)
    try:
        buf = io.BytesIO()
        np.savez(buf, positives=positives, negatives=negatives)
        with atomic_write(path) as f:
            f.write(buf.getvalue())
    except OSError:      # no writable cache: the next run makes them again
        pass
    return positives, negatives
