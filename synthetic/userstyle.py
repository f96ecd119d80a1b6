"""Synthetic "real-world" pictures of MNIST digits, for the tests and benchmarks of predict.py.

Each style imitates what people hand to predict.py: ink on paper of any size, a small
digit in a corner of a big canvas, a transparent canvas export, a phone photo (uneven
light, a shadow, thick marker or thin pen), palette and 16-bit PNGs.
"""
import numpy as np
from PIL import Image, ImageFilter

STYLES = ["ink_on_paper", "small_in_corner", "transparent", "photo_marker", "photo_pen",
          "palette", "grey16"]


def stylise(digit, style, rng):
    """An MNIST digit (28, 28) uint8 as a person's picture of it, in one of STYLES."""
    ink = Image.fromarray(digit)
    size = int(rng.integers(80, 260))
    ink = ink.resize((size, size), Image.Resampling.BICUBIC)
    ink = ink.rotate(float(rng.uniform(-10, 10)), resample=Image.Resampling.BICUBIC, expand=True)
    if style == "photo_marker":
        ink = ink.filter(ImageFilter.MaxFilter(7))          # thick felt-tip strokes
    if style == "photo_pen":
        ink = ink.filter(ImageFilter.MinFilter(3))          # thinner strokes
    a = np.asarray(ink, dtype=np.float32) / 255
    H, W = (int(rng.integers(a.shape[0] + 10, a.shape[0] * 2 + 40)),
            int(rng.integers(a.shape[1] + 10, a.shape[1] * 2 + 40)))
    if style == "small_in_corner":
        H, W = 600, 800
    canvas = np.zeros((H, W), dtype=np.float32)
    y = int(rng.integers(0, H - a.shape[0]))
    x = int(rng.integers(0, W - a.shape[1]))
    if style == "small_in_corner":
        y, x = int(rng.integers(5, 40)), int(rng.integers(5, 40))
    canvas[y:y + a.shape[0], x:x + a.shape[1]] = a
    if style == "transparent":                               # black ink on a transparent canvas
        rgba = np.zeros((H, W, 4), dtype=np.uint8)
        rgba[..., 3] = (canvas * 255).astype(np.uint8)
        return Image.fromarray(rgba, "RGBA")
    if style == "grey16":                                    # light on dark, 16-bit
        return Image.fromarray((canvas * 65535).astype(np.uint16))   # mode I;16
    paper = rng.uniform(0.7, 0.95)
    img = paper * (1 - 0.85 * canvas)                        # dark ink on light paper
    if style.startswith("photo"):
        yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
        img = img * (0.65 + 0.35 * (yy * rng.uniform(0.3, 1) + xx * rng.uniform(0.3, 1)) / 2 + 0.2)
        img[: H // 3, : W // 4] *= 0.8                       # a shadow in a corner
    img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1)
    rgb = np.stack([img * 0.98, img, img * 0.93], axis=-1)   # slightly warm paper
    out = Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
    return out.convert("P", palette=Image.Palette.ADAPTIVE) if style == "palette" else out
