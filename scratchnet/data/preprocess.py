"""Turn a real-world picture of a digit into a 28x28 MNIST-style input, as MNIST was made.

MNIST digits are white ink on black, anti-aliased, the digit scaled so its longer side is
20 px (aspect ratio kept) and placed in a 28x28 frame with its centre of mass at the centre.
A photo or a drawing differs in every one of those ways, so `to_mnist` goes step by step:

 1. read   any PIL mode (L, LA, RGB, RGBA, P, I;16, ...) to grey in [0, 1]; transparency is
           composited onto a background that contrasts with the opaque strokes, so a
           transparent canvas becomes plain background whatever colour the ink is; ink of
           the paper's brightness but another colour (blue on navy) is read by its colour;
 2. shrink so the longer side is at most WORK_SIZE px (bounded cost for huge photos), by
           an area average (a 1-px line keeps its ink at any scale; where it fades into
           the paper, a 1-px pencil on a 4K canvas, the lines are widened first in
           proportion); a digit found small in a big picture is looked at again at full
           resolution around it;
           a drawing area inside the picture (a screenshot of a paint program or a canvas
           demo: a frame's line, or a page of another shade, around it) is cut out first;
 3. polarity: the border is paper; the ink is what stands out from it, darker or
           lighter (where neither side clearly does, a border brighter than the middle grey
           means dark ink); dark ink is inverted, so ink is bright on dark like MNIST;
 4. flatten uneven paper, lighting and shadows: subtract a background estimate (the
           paper pixels' median in coarse blocks, or a grey-level opening wider than a
           pen stroke where that is higher, reaches the picture's edge and is faint beside
           the ink, as shadows are),
           then stretch contrast so the ink reaches 1;
 5. threshold (Otsu) to find the ink; drop faint noise, specks (connected pieces much
           smaller than the digit, unless a pen's dot beside it: the dot of a !) and
           pieces entering from the border (shadows, page edges, fingers: fainter than
           the ink, wider than its pen or along a whole side; not a stroke drawn to the
           canvas's edge) and take the bounding box of what is left; a row of a pen's
           dots (a canvas demo that stamps the pen at each mouse event) joined into
           its line;
 6. stroke width: measure the pen's width and, if it is outside MNIST's range once
           scaled (a 1-px paint tool, a fat marker), thicken or thin the strokes to MNIST's
           typical width (strokes.py);
 7. scale the box so its longer side is 20 px, anti-aliased, keeping the aspect ratio;
 8. place it in a 28x28 frame so the ink's centre of mass is at the centre.

An image that is already an MNIST digit passes through (nearly) unchanged.
"""
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ImageError
from ..fileio import atomic_write
from .strokes import dilate, erode, normalise_width

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)    # ITU-R 601
COLOUR = 0.5              # ink whose luma stands out less than this share of its colour: by colour
MAX_PIXELS = 40_000_000   # larger images are refused (decompression-bomb guard)
WORK_SIZE = 160           # the working resolution (longer side) for steps 3-5
FADES = 8                 # a picture shrunk this many times or more may have lost a thin line
DIGIT_BOX, FRAME = 20, 28
NOISE_FLOOR = 0.06        # after contrast stretching, weaker values are paper noise
RAISED = 0.05             # the opening above the paper level by more: a shadow or a blob
INKY = 0.5                # raised by this share of the ink's contrast (a patch's mean, a pixel): ink
DOT_REACH = 0.6           # a pen's dot lies within this share of the drawing's size from it
DOT_BRIGHT = 0.6          # and is as bright as ink (the ink's level is 1)
MAX_DOTS = 3              # an umlaut has two; more small pieces are speckle
EDGE_BRIGHT = 0.8         # a stroke drawn to the picture's edge: as bright as the ink (its
EDGE_PEN = 2.0            # median), at most this many times its pen's width, and spanning
EDGE_SPAN = 0.9           # less than this share of the picture's height and width
EDGE = 0.08               # a drawing area's side: the grey steps by more than this across it
FAINT_EDGE = 0.04         # ... or this, in a picture shrunk FADES times or more: a screenshot of a
                          # paint program's window, its light grey page 0.05 from the white canvas
AREA_SIDE = 0.2           # and runs straight along at least this share of the picture
MAX_LINES = 32            # more such lines across or down: a picture of lines, not a screenshot
TOUCHING = 0.1            # at most this share of a canvas's inside edge may be ink touching it
INK_SIDE = 2.0            # the ink stands out from the paper this many times further on its side
MIN_DOTS = 6              # a drawing of this many pen's dots or more, half its pieces: a dotted line
DOT_LONG = 4.0            # a dot: its box's longer side at most this many times its pen's width
DOT_FILL = 4.0            # joined, a dotted line covers at most this many times the dots' area
DOT_WIDE = 2.5            # px: a dot is wider than the pieces of a broken 1-2 px line


def load_image(source, max_pixels=MAX_PIXELS, name=None):
    """Open an image (a path or a binary file object) and decode it fully; ImageError (one
    line, naming `name` or the path) for anything wrong."""
    label = name or source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # Pillow's word on a corrupt EXIF block: the picture reads
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
            w, h = img.size
            if w * h > max_pixels:
                raise ImageError(f"{label}: image too large ({w}x{h} = {w * h:,} pixels; "
                                 f"limit {max_pixels:,})")
            img.load()
            img = _upright(img)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image (or a format Pillow cannot read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{label}: image too large (decompression-bomb guard)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{label}: broken or truncated image ({e})") from None
    return img


# EXIF orientation -> the turn that shows the picture upright (PIL.ImageOps.exif_transpose's
# table; a phone stores a photo as its sensor saw it and says how to turn it)
_TURNS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
          5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_90}


def _upright(img):
    """The picture as a viewer shows it: turned as its EXIF orientation says (as browsers do)."""
    try:
        turn = _TURNS.get(img.getexif().get(0x0112))
    except Exception:  # noqa: BLE001  (Pillow's EXIF parser raises many kinds: the picture as stored)
        return img
    return img if turn is None else img.transpose(turn)


def to_grey(img):
    """Any PIL image -> float32 (H, W) grey in [0, 1], transparency composited away; for ink
    that differs from the paper by its colour more than by its brightness, each pixel's
    distance from the paper's colour (_colour_ink)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(a.max()), 1.0)
        return np.clip(a / top, 0, 1).astype(np.float32)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode == "PA":
        img = img.convert("RGBA")
    has_alpha = img.mode in ("LA", "RGBA", "La", "RGBa")
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255
    grey = rgb @ LUMA
    if img.mode in ("1", "L"):
        return grey
    if not has_alpha:
        return _colour_ink(rgb, grey)
    alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255
    if alpha.min() > 0.99:
        return _colour_ink(rgb, grey)
    # Strokes are where alpha is; put them on the background that contrasts with them.
    ink_level = float((grey * alpha).sum() / max(alpha.sum(), 1e-6))
    background = 1.0 if ink_level < 0.5 else 0.0
    return grey * alpha + background * (1 - alpha)


def _colour_ink(rgb, grey):
    """(H, W, 3) colours and their (H, W) luma -> the luma, or, for ink the luma hardly tells
    from the paper (blue on navy, yellow on light blue, red on a green board), each pixel's
    distance from the paper's colour (the border's median), ink bright. Measured on every
    step-th pixel: a photo's millions of pixels add nothing to the choice."""
    step = -(-max(grey.shape) // WORK_SIZE)                # at most WORK_SIZE px a side
    small = rgb[::step, ::step]
    paper = np.array([np.median(_border(small[..., c])) for c in range(3)], dtype=np.float32)

    def distance(colours):                                  # from the paper's colour, in [0, 1]
        return np.linalg.norm(colours - paper, axis=-1) / np.sqrt(3)
    colour_contrast = np.percentile(distance(small), 99.9)
    luma_contrast = np.percentile(np.abs(grey[::step, ::step] - paper @ LUMA), 99.9)
    if luma_contrast >= COLOUR * colour_contrast:
        return grey
    return distance(rgb).astype(np.float32)


def _shrink(grey, size):
    """Step 2: (h, w) float32 -> its area average with the longer side `size` (unchanged if
    it is no longer). Each output pixel is the mean of the input's area it covers, edge
    pixels by the share they overlap: Pillow's BOX filter counts only the pixels whose
    centres fall inside, and so lets a 1-px line fade or vanish at some scales."""
    h, w = grey.shape
    if max(h, w) <= size:
        return grey
    scale = size / max(h, w)
    return area_mean(area_mean(grey, max(1, round(h * scale)), 0), max(1, round(w * scale)), 1)


def area_mean(a, n, axis):
    """(..., m, ...) float32 -> (..., n, ...): the mean over n equal windows of `axis` (n <= m).
    Window j spans [j m/n, (j+1) m/n): the whole pixels inside it summed, plus the share of
    the pixel its end cuts, minus the share of the pixel its start cuts."""
    a = np.moveaxis(a, axis, 0)
    m = a.shape[0]
    edges = np.arange(n + 1) * (m / n)
    cut = np.minimum(edges.astype(int), m - 1)                  # the pixel each edge falls in
    share = (edges - cut).astype(np.float32)
    share[-1] = 0                                               # the last window runs to the end
    share = share.reshape((-1,) + (1,) * (a.ndim - 1))
    out = np.add.reduceat(a, cut[:-1], axis=0)                  # pixels cut[j] .. cut[j + 1] - 1
    out += share[1:] * a[cut[1:]] - share[:-1] * a[cut[:-1]]
    return np.moveaxis(out * np.float32(n / m), 0, axis)


def _border(a):
    k = max(1, min(a.shape) // 20)
    return np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[:, :k].ravel(), a[:, -k:].ravel()])


def _smooth_background(a, blocks=6):
    """Paper/lighting level everywhere: the median of the paper pixels (below Otsu's level)
    of each coarse block, interpolated back to full size. Blocks that are all ink take the
    overall paper level, so thick strokes are never mistaken for background."""
    h, w = a.shape
    paper = a <= otsu_threshold(a)
    overall = float(np.median(a[paper])) if paper.any() else float(a.min())
    by, bx = min(blocks, h), min(blocks, w)
    ys, xs = np.linspace(0, h, by + 1).astype(int), np.linspace(0, w, bx + 1).astype(int)
    # every pixel's block, then all blocks' medians at once: sort the paper pixels by
    # (block, value) and read each block's middle one (or the mean of its middle two)
    block = ((np.searchsorted(ys, np.arange(h), "right") - 1)[:, None] * bx
             + (np.searchsorted(xs, np.arange(w), "right") - 1)[None, :])
    counts = np.bincount(block[paper], minlength=by * bx)
    values = np.sort(block[paper] * 2.0 + a[paper])     # block ids 2 apart, values in [0, 1]
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    lo = values[(start + (counts - 1) // 2)[has]] - 2.0 * np.flatnonzero(has)
    hi = values[(start + counts // 2)[has]] - 2.0 * np.flatnonzero(has)
    medians = np.full(by * bx, overall, dtype=np.float64)
    medians[has] = (lo + hi) / 2
    enough = counts > 0.2 * np.bincount(block.ravel(), minlength=by * bx)   # >20% of it paper
    grid = np.where(enough, medians, overall).astype(np.float32).reshape(by, bx)
    return np.asarray(Image.fromarray(grid, mode="F").resize((w, h), Image.Resampling.BILINEAR))


def _background(a):
    """Paper, lighting and shadows, everywhere: the larger of two estimates. The paper
    pixels' block medians follow smooth lighting and never mistake thick strokes for paper;
    the opening also follows sharp-edged shadows, except where it stands on a felt-tip
    stroke too wide for it. Small (MNIST-sized) images skip the opening."""
    paper = _smooth_background(a)
    if max(a.shape) < 64:
        return paper
    opened = _opening_background(a)
    # A stroke wider than the opening's window (a felt-tip marker's blob) survives it and
    # would be subtracted as if it were a shadow. Shadows and lighting reach the picture's
    # edge and are faint beside the ink (at most a third of its contrast in the photo
    # styles, a marker's blob in a tightly cropped drawing over 0.85); a raised patch that
    # stays inside, or is at least half as bright as the ink (on average or at a pixel: the
    # opening of a picture that is nearly all ink has plateaus of both), is ink: it keeps
    # the paper level.
    height = opened - paper
    raised = height > RAISED
    if raised.any():
        labels = _components(raised)
        reaching = np.unique(_border(np.where(raised, labels, -1)))
        ids, inverse = np.unique(labels[raised], return_inverse=True)
        mean_height = np.bincount(inverse, height[raised]) / np.bincount(inverse)
        inky = INKY * float((a - paper).max())
        raised &= ~np.isin(labels, reaching) | np.isin(labels, ids[mean_height >= inky]) | (height >= inky)
        opened = np.where(raised, paper, opened)
    return np.maximum(paper, opened)


def _opening_background(a):
    """Grey-level opening (min filter, then max filter) with a window wider than any pen
    stroke: it erases the strokes and keeps what is broad (paper, lighting, shadows)."""
    h, w = a.shape
    step = max(1, min(h, w) // 40)                 # work at ~40 px: fast, and smooth
    small = (a[::step, ::step] if step > 1 else a).astype(np.float32)
    # a quarter of the longer side: a tightly cropped "1" is hardly wider than its stroke
    k = max(3, (max(small.shape) // 4) | 1)
    # paper outside the picture, not its edge repeated: a stroke along the edge of a tightly
    # cropped digit would otherwise widen outward, survive and pass for a shadow there
    paper = float(small.min())
    opened = rank_filter(rank_filter(small, k, np.minimum, paper), k, np.maximum, paper)
    return np.asarray(Image.fromarray(opened, mode="F").resize((w, h), Image.Resampling.BILINEAR))


def rank_filter(a, k, op, outside=None):
    """The minimum (op=np.minimum) or maximum (np.maximum) over each k x k window, k odd, the
    edge repeated outside (or the value `outside` there): Pillow's MinFilter/MaxFilter,
    computed as a row pass and a column pass (a square's extremum is the extremum of its
    rows' extrema) - O(k) per pixel, not O(k^2)."""
    r = k // 2
    padded = (np.pad(a, r, mode="edge") if outside is None
              else np.pad(a, r, mode="constant", constant_values=outside))
    rows = op.reduce([padded[:, j:j + a.shape[1]] for j in range(k)])
    return op.reduce([rows[i:i + a.shape[0]] for i in range(k)])


def otsu_threshold(a, bins=128):
    """The level that best splits the values into two classes (max between-class variance)."""
    hist, edges = np.histogram(a, bins=bins, range=(0.0, 1.0))
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * centers)
    mt = m0[-1]
    w1 = 1 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0
    return float(edges[np.argmax(between) + 1])


def _runs(mask):
    """Each row's runs of True in a bool (h, w) mask: (rows, starts, ends), runs [start, end)
    in row-major order."""
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)     # (h, w + 1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return rows, starts, ends


def _components(mask):
    """Label 8-connected regions of a boolean mask (outside it: the int64 maximum). Each row's
    runs of ink are found at once; a run joins the runs of the next row it touches (columns
    overlapping or meeting at a corner); labels flow to the smallest run index along those
    links, with jumps (label of the label), until nothing changes; runs paint their pixels."""
    h, w = mask.shape
    labels = np.full((h, w), np.iinfo(np.int64).max, np.int64)
    rows, starts, ends = _runs(mask)
    n = len(rows)
    if n == 0:
        return labels
    key = w + 2                                    # (row, column) -> one sortable number
    first = np.searchsorted(rows * key + ends, (rows + 1) * key + starts, side="left")
    last = np.searchsorted(rows * key + starts, (rows + 1) * key + ends, side="right")
    count = np.maximum(last - first, 0)            # the next row's runs first..last-1 touch it
    a = np.repeat(np.arange(n), count)
    b = np.arange(count.sum()) + np.repeat(first - np.cumsum(count) + count, count)
    run = np.arange(n)
    while True:
        low = np.minimum(run[a], run[b])
        new = run.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, run):
            break
        run = new
    lengths = ends - starts
    pixels = np.arange(lengths.sum()) + np.repeat(rows * w + starts - np.cumsum(lengths) + lengths, lengths)
    labels.ravel()[pixels] = np.repeat(run, lengths)
    return labels


def ink_mask(a):
    """Boolean mask of the digit: above Otsu's level, without specks and faint noise."""
    level = otsu_threshold(a)
    mask = a > max(level, 0.15)
    if not mask.any():
        return mask
    labels = _components(mask)
    ids, counts = np.unique(labels[mask], return_counts=True)
    pieces = counts >= max(2, 0.08 * counts.max())       # pieces of the digit, not specks
    keep = ids[pieces]
    # Shadows, page edges and fingers enter from the border. When some piece does not touch
    # it, drop those that do, but not a stroke drawn to the canvas's edge (a 4's down-stroke,
    # a 5's bar): dropped, it took the digit with it.
    on_border = np.unique(_border(np.where(mask, labels, -1)))
    inner = keep[~np.isin(keep, on_border)]
    if len(inner):
        keep = np.concatenate([inner, _strokes_to_edge(a, labels, keep[np.isin(keep, on_border)],
                                                       np.isin(labels, inner))])
    drawing = np.isin(labels, keep) & mask
    return drawing | _pen_dots(a, labels, ids[~pieces], counts[~pieces], drawing, on_border)


def _strokes_to_edge(a, labels, touching, drawing):
    """Of the pieces that touch the picture's border, those that are strokes of the drawing
    (`drawing`: the pieces that do not touch it) drawn to the canvas's edge: as bright as its
    ink, no wider than its pen, and not along a whole side. A shadow's edge is fainter than
    ink, a table or a finger wider than a pen, a page's edge runs along the side."""
    if not len(touching):
        return touching
    h, w = labels.shape
    ink, pen = np.median(a[drawing]), _pen_width(drawing)
    strokes = []
    for i in touching:
        piece = labels == i
        ys, xs = np.nonzero(piece)
        if (np.median(a[piece]) >= EDGE_BRIGHT * ink and _pen_width(piece) <= EDGE_PEN * pen
                and np.ptp(ys) < EDGE_SPAN * h and np.ptp(xs) < EDGE_SPAN * w):
            strokes.append(i)
    return np.array(strokes, labels.dtype)


def _pen_width(mask):
    """A stroke's width: its area over half its outline (strokes.stroke_width's skeleton
    would cost more, and telling a dot from a speck or a stroke from a shadow needs no better)."""
    m = np.pad(mask, 1)
    edge = mask & ~(m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:])
    return 2 * mask.sum() / max(edge.sum(), 1)


def _pen_dots(a, labels, ids, counts, drawing, on_border):
    """The dots a pen leaves beside a drawing (of ! ? i j, an umlaut): pieces too small to
    be strokes, yet no specks: each covers half a pen-wide square or more, is as bright as
    ink, lies within DOT_REACH of the drawing's size from it, and there are at most MAX_DOTS
    of them (more is speckle). Without them a ! is a 1 and an o with an umlaut a 0."""
    inside = ~np.isin(ids, on_border)
    ids, counts = ids[inside], counts[inside]
    if not len(ids):                                      # most pictures: no small piece
        return np.zeros_like(drawing)
    pen = _pen_width(drawing)
    ids = ids[counts >= max(2, 0.5 * pen * pen)]
    if not 0 < len(ids) <= 4 * MAX_DOTS:                  # none, or a speckled picture
        return np.zeros_like(drawing)
    top, bottom, left, right = _box(drawing)
    reach = DOT_REACH * max(bottom - top, right - left)
    dots = []
    for i in ids:
        ys, xs = np.nonzero(labels == i)
        near = (ys.min() >= top - reach and ys.max() < bottom + reach
                and xs.min() >= left - reach and xs.max() < right + reach)
        if near and a[ys, xs].max() > DOT_BRIGHT:
            dots.append(i)
    if len(dots) > MAX_DOTS:
        return np.zeros_like(drawing)
    return np.isin(labels, dots)


def to_mnist(img, normalise_strokes=True):
    """PIL image -> float32 (28, 28) in [0, 1], white digit on black, MNIST-style.
    normalise_strokes=False skips step 6 (the pen's width stays as drawn).

    Raises ImageError if there is no ink (a blank image)."""
    crop = _ink_crop(img)
    if normalise_strokes:
        crop = _crop(normalise_width(crop, DIGIT_BOX)[0])   # 6. MNIST's pen width
    return _place(crop)


def to_mnist_views(img):
    """PIL image -> (the (28, 28) input to_mnist makes, and the picture as drawn): without
    step 6 if that step thinned the strokes, else the same array. Thinning turns a filled
    shape into a stick, a dress into a 1: the open set looks at both views (OpenSet.answer).

    Raises ImageError if there is no ink (a blank image)."""
    crop = _ink_crop(img)
    normalised = normalise_width(crop, DIGIT_BOX)[0]
    digit = _place(_crop(normalised))
    thinned = normalised.sum() < crop.sum()                 # (thickening adds ink)
    return digit, (_place(crop) if thinned else digit)


def _ink_crop(img):
    """Steps 1-5: PIL image -> (h, w) float32 ink in [0, 1], bright on dark, cropped to its box."""
    full = to_grey(img)
    grey = _shrink(full, WORK_SIZE)
    area = drawing_area(grey, full)
    if area is not None:                                    # a screenshot: the canvas alone
        full = _under(full, area, max(full.shape) / max(grey.shape))
        grey = _shrink(full, WORK_SIZE)
    if dark_ink(grey):                                      # 3. dark ink on light paper
        grey, full = 1 - grey, 1 - full
    factor = max(full.shape) / max(grey.shape)              # how many times it was shrunk
    try:
        a = _ink(grey)
    except ImageError:
        # shrunk f times, a 1-px line keeps 1/f of its brightness: on a 4K canvas it sinks
        # into the paper. Widen the lines in proportion and look again (a blank stays blank).
        if factor < FADES:
            raise
        full = rank_filter(full, 2 * int(np.ceil(factor / FADES)) + 1, np.maximum)
        grey = _shrink(full, WORK_SIZE)
        a = _ink(grey)
    # A small digit on a big canvas is only a few working pixels: look again at full
    # resolution around it, the working resolution now spent on the digit.
    top, bottom, left, right = _box(a)
    side = max(bottom - top, right - left)
    if factor > 1.5 and side < WORK_SIZE / 2:
        margin = side // 2 + 2
        y0, y1 = (max(0, int(v * factor)) for v in (top - margin, bottom + margin))
        x0, x1 = (max(0, int(v * factor)) for v in (left - margin, right + margin))
        a = _ink(_shrink(full[y0:y1, x0:x1], WORK_SIZE))
    return _crop(join_dots(a))


def join_dots(a):
    """Step 5, last: (h, w) ink, bright -> the same, a dotted line joined into a stroke. A canvas
    demo that stamps the pen at each mouse event leaves dots where the hand moved fast; at
    28x28 such a digit is a row of specks, and no digit at all to the networks. Where half the
    pieces or more, MIN_DOTS at least, are dots of one pen (DOT_WIDE or wider: no broken thin
    line), the smallest grey closing (a dilation, then an erosion as wide) up to the dots' size
    that makes them one drawing (at most three pieces, the largest four fifths of the ink),
    made half as wide again, joins them, if what it makes is a stroke no wider than two dots
    and covers at most DOT_FILL times their area (a field of specks closes into a blob)."""
    mask = a > 0.5
    labels = _components(mask)
    ids = np.unique(labels[mask])
    if len(ids) < MIN_DOTS:                                 # most drawings: a few pieces
        return a
    dots, pens = [], []                                     # each dot's box's longer side, its width
    for i in ids:
        piece = labels == i
        ys, xs = np.nonzero(piece)
        long, pen = max(np.ptp(ys), np.ptp(xs)) + 1, _pen_width(piece)
        if long <= DOT_LONG * pen:
            dots.append(long)
            pens.append(pen)
    # a thin line that shrinking broke (a small digit's) is pieces too, but as wide as the line
    if len(dots) < max(MIN_DOTS, len(ids) / 2) or np.median(pens) < DOT_WIDE:
        return a
    dot = float(np.median(dots))
    for r in range(1, int(np.ceil(dot)) + 1):
        joined = erode(dilate(a, r), r)[r:-r, r:-r] > 0.5
        _, sizes = np.unique(_components(joined)[joined], return_counts=True)
        if len(sizes) <= 3 and sizes.max() >= 0.8 * joined.sum():
            # half as wide again: closed just enough, the joins are waists that scaling breaks
            r = min(int(np.ceil(1.5 * r)), int(np.ceil(dot)))
            closed = erode(dilate(a, r), r)[r:-r, r:-r]
            joined = closed > 0.5
            if joined.sum() <= DOT_FILL * mask.sum() and _pen_width(joined) <= 2 * dot:
                return closed
            return a
    return a


def dark_ink(grey):
    """Step 3: is the ink darker than the paper? The paper is the border's level; the ink
    stands out from it furthest (its 0.1% extremes), black on navy paper or white chalk on a
    grey board. Where neither side does clearly (by INK_SIDE times, and by 0.05 at least), as
    a faint small digit, a bright border means dark ink."""
    paper = float(np.median(_border(grey)))
    darkest, brightest = np.percentile(grey, [0.1, 99.9])
    darker, lighter = paper - darkest, brightest - paper
    if max(darker, lighter) > max(INK_SIDE * min(darker, lighter), 0.05):
        return bool(darker > lighter)
    return paper > 0.5


def drawing_area(grey, full=None):
    """The drawing area of a screenshot, (top, bottom, left, right) of the working-size grey
    picture, ends excluded; None if there is none. It is the smallest axis-aligned rectangle
    whose four sides are straight steps of grey (a frame's line, a page of another shade)
    that end at its corners (not the lines of squared paper, which run on without a break;
    a button below a canvas starts after one), whose inside next to the sides is plain and
    is the inside's usual shade (a canvas, not the stroke of a square 0), that holds no
    such rectangle (a box drawn inside a box is a drawing) and has something drawn inside.
    Nothing drawn may touch the sides of a rectangle on paper of its own shade (a house's
    walls and its door); a canvas of another shade than the page around it may have the
    drawing touch its sides (a digit drawn up to the canvas's edge). Its inside is
    returned, about 2 px in from the sides. `full`, the picture before it was shrunk to
    `grey`, is where a line shrinking faded into the canvas is seen drawn, and a picture
    shrunk FADES times or more (a screen) may have sides that step by FAINT_EDGE only (not
    every picture: in small drawings, the soft edges of bold strokes made sides too)."""
    area = _drawing_area(grey, full, EDGE)
    if area is None and full is not None and max(full.shape) >= FADES * max(grey.shape):
        area = _drawing_area(grey, full, FAINT_EDGE)
    return area


def _drawing_area(grey, full, edge):
    """drawing_area with sides that step by more than `edge`."""
    h, w = grey.shape
    if min(h, w) < 48:                                      # MNIST-sized: no screenshot
        return None
    # a step of grey across two pixels: shrinking spreads a sharp edge over two
    across_rows = np.abs(grey[2:] - grey[:-2]) > edge       # (h - 2, w): rows y, y + 2 differ
    across_cols = np.abs(grey[:, 2:] - grey[:, :-2]) > edge     # (h, w - 2): columns x, x + 2
    rows = np.array(_lines(across_rows, max(12, AREA_SIDE * w)))
    cols = np.array(_lines(across_cols.T, max(12, AREA_SIDE * h)))
    if not (2 <= len(rows) <= MAX_LINES and 2 <= len(cols) <= MAX_LINES):   # none, or a picture of lines
        return None
    # each line's running count of edges, so any stretch of it is counted at once
    row_counts = np.pad(np.cumsum(across_rows, axis=1), ((0, 0), (1, 0)))      # (h - 2, w + 1)
    col_counts = np.pad(np.cumsum(across_cols.T, axis=1), ((0, 0), (1, 0)))    # (w - 2, h + 1)

    def sides(counts, lines, ends):
        """ok[i, j, k]: line i is a side from line j to line k of the other direction: edge
        along 90% of the way between them, and under half of the 3 px just past either end."""
        along = _shares(counts, lines, ends + 2, ends)
        past = np.maximum(_shares(counts, lines, ends - 4, ends - 1).diagonal(0, 1, 2)[:, :, None],
                          _shares(counts, lines, ends + 3, ends + 6).diagonal(0, 1, 2)[:, None, :])
        return (along >= 0.9) & (past < 0.5)
    across = sides(row_counts, rows, cols)                  # (rows, cols, cols)
    down = sides(col_counts, cols, rows).transpose(1, 2, 0)     # (rows, rows, cols)
    tall = rows[None, :] - rows[:, None] >= 16
    wide = cols[None, :] - cols[:, None] >= 16
    # rectangle [top, bottom, left, right]: all four sides, big enough
    ok = (tall[:, :, None, None] & wide & across[:, None] & across[None, :]
          & down[:, :, :, None] & down[:, :, None, :])
    t, b, l, r = np.nonzero(ok)
    found = sorted(zip(((rows[b] - rows[t]) * (cols[r] - cols[l])).tolist(), rows[t].tolist(), rows[b].tolist(),
                       cols[l].tolist(), cols[r].tolist()))
    for _, top, bottom, left, right in found:
        if any(t - top >= 4 and bottom - b >= 4 and l - left >= 4 and right - r >= 4 for _, t, b, l, r in found):
            continue                                        # boxes in a box: a drawing (回, a thick 0)
        inside = grey[top + 3:bottom, left + 3:right]
        ring = np.concatenate([inside[:2].ravel(), inside[-2:].ravel(), inside[:, :2].ravel(), inside[:, -2:].ravel()])
        paper = np.median(ring)
        touching = np.abs(ring - paper) > 0.25
        if touching.any():          # drawn up to the sides: a canvas of its own shade only
            page = _page_around(grey, top, bottom, left, right)
            if touching.mean() >= TOUCHING or page is None or abs(page - paper) <= edge:
                continue
        low, high = np.percentile(ring[~touching], [5, 95])
        if high - low < 0.1 and abs(float(np.median(inside)) - paper) < 0.05 and _drawn(
                inside, paper, full, (top + 3, bottom, left + 3, right), max(h, w)):
            return top + 3, bottom, left + 3, right
    return None


def _drawn(inside, paper, full, area, side):
    """Is something drawn inside a drawing area (working size), on paper of shade `paper`?
    3 px or more that stand out from it; or, in `full` (the picture before it was shrunk to a
    longer side of `side` px), as many px as a line 3 working px long: shrunk f times, a paint
    program's 1-px pencil keeps 1/f of its contrast, under the 0.25 asked from f = 4 on."""
    if (np.abs(inside - paper) > 0.25).sum() >= 3:
        return True
    if full is None or max(full.shape) <= side:
        return False
    f = max(full.shape) / side
    return int((np.abs(_under(full, area, f) - paper) > 0.25).sum()) >= 3 * f


def _under(full, box, factor):
    """The pixels of `full` under a (top, bottom, left, right) box, ends excluded, of the
    picture shrunk `factor` times from it: only those the box covers whole."""
    top, bottom, left, right = box
    return full[int(np.ceil(top * factor)):int(bottom * factor), int(np.ceil(left * factor)):int(right * factor)]


def _page_around(grey, top, bottom, left, right):
    """The median grey of the 3 px bands just outside a rectangle's sides, past a frame's
    line (the sides' edge rows and columns as drawing_area finds them); None if the
    rectangle reaches the picture's border."""
    h, w = grey.shape
    if top < 5 or left < 5 or bottom + 7 > h or right + 7 > w:
        return None
    bands = [grey[top - 5:top - 2, left:right], grey[bottom + 4:bottom + 7, left:right],
             grey[top:bottom, left - 5:left - 2], grey[top:bottom, right + 4:right + 7]]
    return float(np.median(np.concatenate([b.ravel() for b in bands])))


def _lines(mask, length):
    """The rows of a bool (n, m) mask that hold a run of True at least `length` long."""
    rows, starts, ends = _runs(mask)
    return np.unique(rows[ends - starts >= length]).tolist()


def _shares(counts, lines, a, b):
    """share[i, j, k]: the share of [a[j], b[k]) along line lines[i] that is edge (0 where
    that stretch is empty), from running counts (lines, n + 1)."""
    n = counts.shape[1] - 1
    a, b = np.clip(a, 0, n), np.clip(b, 0, n)
    c = counts[lines].astype(np.float64)
    span = b[None, :] - a[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (c[:, b][:, None, :] - c[:, a][:, :, None]) / span
    return np.where(span > 0, share, 0.0)


def _place(crop):
    """Steps 7-8: (h, w) ink cropped to its box -> the (28, 28) input."""
    h, w = crop.shape
    scale = DIGIT_BOX / max(h, w)                           # 7. longer side -> 20 px
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    digit = np.asarray(Image.fromarray(crop, mode="F").resize(
        (new_w, new_h), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR))
    digit = np.clip(digit, 0, None)
    digit = np.clip(digit / max(digit.max(), 1e-6), 0, 1)
    return center_by_mass(digit)                            # 8. centre of mass at the centre


def _ink(grey):
    """Grey picture, ink bright -> the ink alone in [0, 1] (steps 4 and 5), zero elsewhere."""
    a = grey - _background(grey)                            # 4. flatten paper and lighting
    a = np.clip(a, 0, None)
    if a.max() < 0.08:
        raise ImageError("no digit found: the image is blank (no ink stands out)")
    # the ink's level: a high percentile of the clearly bright pixels (a 1-px drawing may be
    # under 0.5% of the picture), robust to a few brighter specks
    top = np.percentile(a[a >= 0.3 * a.max()], 90) if a.size > 400 else a.max()
    a = np.clip(a / max(top, a.max() * 0.5), 0, 1).astype(np.float32)
    mask = ink_mask(a)                                      # 5. the ink and its box
    if mask.sum() < 3:
        raise ImageError("no digit found: the image is blank (no ink stands out)")
    # keep the anti-aliased edge around the strokes; drop everything away from them
    return np.where(_dilate(mask) & (a > NOISE_FLOOR), a, 0).astype(np.float32)


def _box(a):
    """(top, bottom, left, right), ends excluded, of the ink (a > 0) of an image that has some."""
    rows, cols = np.flatnonzero((a > 0).any(axis=1)), np.flatnonzero((a > 0).any(axis=0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def _crop(a):
    """The box around the ink of a (H, W) image that has some."""
    top, bottom, left, right = _box(a)
    return a[top:bottom, left:right]


def _dilate(mask, size=5):
    return rank_filter(mask, size, np.maximum)


def center_by_mass(digit, frame=FRAME):
    """Place a (h, w) patch, h, w <= frame, in a frame x frame field with its centre of mass
    at the field's centre (integer shift, kept inside the field)."""
    h, w = digit.shape
    # float64 sums of float32 values are exact here, so a centre exactly on a half pixel
    # rounds the same whatever the order of the sums (the web page's JavaScript sums in another)
    total = digit.sum(dtype=np.float64)
    cy = (digit.sum(axis=1, dtype=np.float64) @ np.arange(h)) / total
    cx = (digit.sum(axis=0, dtype=np.float64) @ np.arange(w)) / total
    top = int(np.clip(round(frame / 2 - cy), 0, frame - h))  # MNIST puts the centre of mass at (14, 14)
    left = int(np.clip(round(frame / 2 - cx), 0, frame - w))
    out = np.zeros((frame, frame), dtype=np.float32)
    out[top:top + h, left:left + w] = digit
    return out


def save_digit_png(digit, f):
    """Write a (28, 28) digit in [0, 1] to the binary file object f as an 8-bit grey PNG."""
    Image.fromarray((digit * 255).round().astype(np.uint8)).save(f, format="PNG")


def write_digit_png(digit, path):
    """save_digit_png to a file, atomically."""
    with atomic_write(path) as f:
        save_digit_png(digit, f)


def preprocess_file(source, max_pixels=MAX_PIXELS, name=None, views=False):
    """Path or file object -> (28, 28) float32 MNIST-style digit (both of to_mnist_views'
    views if `views`); ImageError naming it if not."""
    img = load_image(source, max_pixels, name)
    try:
        return to_mnist_views(img) if views else to_mnist(img)
    except ImageError as e:
        raise ImageError(f"{name or source}: {e}") from None

