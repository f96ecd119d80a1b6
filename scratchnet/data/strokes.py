"""Pen strokes: their width, and bringing it to MNIST's.

MNIST's digits were written with a pen about 2-3 px wide at 28x28; people draw with 1-px paint
tools, fine pens and fat markers. preprocess.to_mnist measures the ink's stroke width and, when
it is outside MNIST's usual range, thickens or thins the strokes to MNIST's typical width (a
fat marker to half its width, within MNIST's range) before the digit is scaled into place.

  width      ink area / stroke length (a stroke of length L and width w covers L*w pixels)
  skeleton   the ink thinned to 1-px lines (Zhang & Suen, 1984), each sweep over the whole
             image at once with shifted arrays
  dilate     grey dilation by a disc of radius r, approximated by alternating 3x3 plus-shaped
             and square maximum filters (an octagon): the stroke gets 2r px wider in every
             direction, diagonals included, and keeps its anti-aliased edge
  erode      the same with minimum filters: 2r px thinner

MNIST's own widths (binarised at half intensity, 2,000 test digits, benchmarks/bench_openset.py
prints them): median 2.2 px, 5th-95th percentile 1.4-3.7 px, 1st-99th 1.15-4.4 px. Widths inside [LOW, HIGH] are
left alone, and so is a change that would not halve the distance to its target (at MNIST's own
resolution one pixel is a big step): an MNIST digit passes through unchanged, or nearly.
Speckle is left alone (but not a thin line that scaling broke into pieces), and so is a
blurred picture that would be thinned.
"""
import numpy as np

TARGET = 2.2          # px at 28x28: MNIST's median stroke width
MAX_ENDS = 12         # open stroke ends: a digit has a handful, speckled noise hundreds
BROKEN_ENDS = 36      # at most, of a thin line broken into pieces by scaling
FAINT = 0.25          # of the brightest: the level at which a thin line that shrinking faded is whole
MAX_SOFT = 0.6        # of the ink a soft edge, at most, in a picture that is thinned (MNIST's
                      # thick digits: 0.24-0.47; UCI's 8x8 digits upscaled: 0.64-0.85)
LOW, HIGH = 1.0, 4.0  # px at 28x28: left alone (97% of MNIST's 2,000 test digits measured are within)


def _neighbours(m):
    """The 8 neighbours of every pixel, north first, clockwise (zero outside the image)."""
    p = np.pad(m, 1)
    h, w = m.shape
    return [p[0:h, 1:w + 1], p[0:h, 2:w + 2], p[1:h + 1, 2:w + 2], p[2:h + 2, 2:w + 2],
            p[2:h + 2, 1:w + 1], p[2:h + 2, 0:w], p[1:h + 1, 0:w], p[0:h, 0:w]]


def skeleton(mask):
    """(H, W) bool -> (H, W) bool: the mask thinned to lines one pixel wide (Zhang-Suen).

    A pixel is peeled off when it is on the boundary (2-6 ink neighbours), removing it does not
    cut the stroke (exactly one 0->1 step around it), and it faces the sweep's side (south-east
    first, then north-west), so strokes thin evenly from both sides."""
    m = mask.astype(np.uint8)
    while True:
        changed = False
        for sweep in (0, 1):
            P = _neighbours(m)
            count = sum(P)
            steps = sum((P[i] == 0) & (P[(i + 1) % 8] == 1) for i in range(8))
            if sweep == 0:   # P[0] north, P[2] east, P[4] south, P[6] west
                facing = (P[0] * P[2] * P[4] == 0) & (P[2] * P[4] * P[6] == 0)
            else:
                facing = (P[0] * P[2] * P[6] == 0) & (P[0] * P[4] * P[6] == 0)
            peel = (m == 1) & (count >= 2) & (count <= 6) & (steps == 1) & facing
            if peel.any():
                m[peel] = 0
                changed = True
        if not changed:
            return m.astype(bool)


def skeleton_length(skel):
    """Length in pixels of 1-px lines: links to the east and south count 1, diagonal links
    sqrt(2) where no two orthogonal links already join the pair (the corner of a staircase)."""
    s = np.pad(skel, 1).astype(np.float64)
    c = s[1:-1, 1:-1]
    east, south = s[1:-1, 2:], s[2:, 1:-1]
    south_east = c * s[2:, 2:] * (1 - east) * (1 - south)
    south_west = c * s[2:, :-2] * (1 - s[1:-1, :-2]) * (1 - south)
    return float((c * east).sum() + (c * south).sum() + np.sqrt(2) * (south_east + south_west).sum())


def stroke_width(mask, with_ends=False):
    """Mean stroke width w in pixels of a (H, W) bool ink mask: its area A over its length.
    Thinning stops half a width short of each of the e open ends of a stroke, so the length
    is the skeleton's L + e * w / 2, and A = w (L + e w / 2) gives w. (A dot or an empty
    mask: its area's square root, or 0.) with_ends=True: (w, e)."""
    area, ends = float(mask.sum()), 0
    if area == 0:
        width = 0.0
    else:
        lines = skeleton(mask)
        length = skeleton_length(lines)
        ends = int((lines & (sum(_neighbours(lines.astype(np.uint8))) == 1)).sum())
        if length < 1:
            width = float(np.sqrt(area))
        elif ends == 0:
            width = area / length
        else:
            width = (np.sqrt(length ** 2 + 2 * ends * area) - length) / ends
    return (width, ends) if with_ends else width


def _grow(a, r, op):
    """Grey dilation (op=np.maximum) or erosion (np.minimum) by an octagon of radius r."""
    out = a
    for step in range(r):
        p = np.pad(out, 1, mode="edge")
        h, w = out.shape
        plus = op.reduce([p[1:h + 1, 1:w + 1], p[0:h, 1:w + 1], p[2:h + 2, 1:w + 1],
                          p[1:h + 1, 0:w], p[1:h + 1, 2:w + 2]])
        if step % 2 == 0:
            out = plus
        else:
            out = op.reduce([plus, p[0:h, 0:w], p[0:h, 2:w + 2], p[2:h + 2, 0:w], p[2:h + 2, 2:w + 2]])
    return out


def dilate(a, r):
    """(H, W) grey ink, bright on dark -> strokes 2r px wider (r >= 0)."""
    return _grow(np.pad(a, r), r, np.maximum)      # room to grow: the box gets r px each side


def erode(a, r):
    """(H, W) grey ink, bright on dark -> strokes 2r px thinner (r >= 0)."""
    return _grow(a, r, np.minimum)


def target_width(final):
    """The width (px at 28x28) to bring strokes `final` px wide at 28x28 to: TARGET for a thin
    line; for a fat marker half its width, within [TARGET, HIGH]: its strokes merge where they
    meet, and thinned all the way they lose the digit's shape (docs/openset.md)."""
    return TARGET if final < LOW else min(HIGH, max(TARGET, final / 2))


def _target_in(final, final_box):
    """target_width for strokes `final` px wide in a box of `final_box` px, in those px (the
    widths of this module are for MNIST's 20 px box)."""
    scale = final_box / 20
    return target_width(final / scale) * scale


def width_change(width, box, final_box):
    """The change in pixels of the stroke width of a drawing whose ink is `width` px wide in a
    box whose longer side is `box` px, so that scaled to `final_box` px it is target_width
    wide; 0 if it is already within [LOW, HIGH] x final_box / 20 (MNIST's range at 28x28).

    Changing the width by d also changes the box by d: (width + d) / (box + d) * final_box =
    target gives d."""
    scale = final_box / 20                         # LOW, HIGH, TARGET are for a 20 px box
    final = width * final_box / box
    if LOW * scale <= final <= HIGH * scale:
        return 0.0
    target = _target_in(final, final_box)
    return (target * box - final_box * width) / (final_box - target)


def normalise_width(crop, final_box=20, level=0.5):
    """(h, w) grey ink in [0, 1], bright on dark, cropped to its box -> the same ink with its
    strokes as wide as MNIST's once the longer side is scaled to final_box px (see
    width_change), and the width measured (px at the working resolution) before the change.
    The ink is what is brighter than `level` times the brightest (FAINT times, for a thin
    line that shrinking faded and broke into pieces there)."""
    mask = crop > level * crop.max()
    width, ends = stroke_width(mask, with_ends=True)
    if ends > MAX_ENDS:
        # A 1-px line shrunk from a big canvas fades unevenly along its length: broken into
        # dozens of pieces at half the brightest, whole at a quarter. Speckle stays in pieces.
        faint = crop > FAINT * crop.max()
        faint_width, faint_ends = stroke_width(faint, with_ends=True)
        if faint_ends <= MAX_ENDS:
            mask, width, ends = faint, faint_width, faint_ends
    # speckle, noise or texture, not pen strokes: nothing to normalise. But a thin line that
    # scaling broke into a few dozen pieces has many ends too, and a 1-px dilation joins them
    # (it also joins dense noise into a mass: hence the few dozen).
    if ends > MAX_ENDS and (ends > BROKEN_ENDS or stroke_width(
            dilate(mask.astype(np.float32), 1) > 0.5, with_ends=True)[1] > MAX_ENDS):
        return crop, width
    d = width_change(width, max(crop.shape), final_box)
    r = int(round(d / 2))                          # the octagon changes the width by 2r
    if r < 0:   # thinned no further than one pixel
        r = max(r, -int((width - 1) // 2))
    box = max(crop.shape)
    before, after = width * final_box / box, (width + 2 * r) * final_box / (box + 2 * r)
    target = _target_in(before, final_box)
    if r == 0 or abs(after - target) > abs(before - target) / 2:
        return crop, width
    if r > 0:
        return dilate(crop, r), width
    # not a blurred picture (most of its ink a soft edge, as an upscaled thumbnail): erosion
    # peels the soft sides first and takes whole strokes with them
    ink = crop[crop > 0.05 * crop.max()] / crop.max()
    if ((ink > 0.1) & (ink < 0.9)).mean() > MAX_SOFT:
        return crop, width
    # only while the strokes stay whole (half the ink a thinner pen leaves): a width measured
    # on a texture or a blob means little
    thinner = erode(crop, -r)
    kept = (thinner > level * crop.max()).sum() / mask.sum()
    return (thinner, width) if kept >= 0.5 * (width + 2 * r) / width else (crop, width)
