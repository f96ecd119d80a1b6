"""Sizes shared by the layers and both kernel back ends: sliding windows and the "phase
planes" the fused Conv2D -> ReLU -> MaxPool2D block computes on."""
from dataclasses import dataclass


def conv_output_size(size, kernel, stride, pad):
    """Output length of a 'valid' sliding window over a padded input:

        out = floor((size + 2*pad - kernel) / stride) + 1

    Used for convolutions (pad >= 0) and pooling (pad = 0, windows that do not fit are dropped,
    Keras' 'valid')."""
    return (size + 2 * pad - kernel) // stride + 1


@dataclass(frozen=True)
class PhasePlanes:
    """Where the fused block finds the input pixels of every pooling window (see planes()).

    S pool size (= pool stride)     PH, PW pooled output rows, columns     L = PH * PW
    RS, CS  row and column shifts   rows   rows per plane                   length = rows * PW
    """
    S: int
    PH: int
    PW: int
    RS: int
    CS: int
    rows: int

    @property
    def L(self):
        return self.PH * self.PW

    @property
    def length(self):
        return self.rows * self.PW


def phase_planes(H, W, KH, KW, pad, S):
    """The geometry of the fused block's input planes, for a stride-1 KHxKW convolution on a
    (H, W) image padded by `pad`, followed by SxS max-pooling with stride S.

    Pooling window (ph, pw) takes the maximum of the S*S convolution outputs at rows S*ph + a,
    columns S*pw + e (a, e in [0, S)). Output (S*ph + a, S*pw + e) needs, for kernel tap (i, j),
    the padded input pixel at

        row S*ph + r,  column S*pw + c,     r = a + i,  c = e + j     (r < S-1+KH, c < S-1+KW)

    Write r = S*qr + rr and c = S*qe + re (rr, re in [0, S): the "phase"; qr, qe: the shift).
    Then the pixel is row ph + qr, column pw + qe of the phase image x[rr::S, re::S]. Give each
    phase (rr, re) and column shift qe a plane of its own, stored row-major with PW columns:

        plane[rr, re, qe][row * PW + pw] = x[S*row + rr, S*(pw + qe) + re]

    and the pixel becomes plane[rr, re, qe][P + qr * PW] with P = ph * PW + pw, the window's
    position in the pooled output. So every (window element, tap) pair reads ONE plane at ONE
    constant offset: a convolution over all windows at once is a sum of unit-stride slices of
    length L = PH * PW, which vectorises, and the pooled output comes out in order.

    Shifts run over qr in [0, RS) and qe in [0, CS), RS = (S-1 + KH-1) // S + 1 (CS likewise),
    so a plane needs rows = PH + RS - 1 rows: the last window (P = L-1) reads up to offset
    (L-1) + (RS-1) * PW < rows * PW. Plane rows past the padded image (possible when S does
    not divide it) are zero and never read by a valid window.
    """
    OH, OW = conv_output_size(H, KH, 1, pad), conv_output_size(W, KW, 1, pad)
    PH, PW = conv_output_size(OH, S, S, 0), conv_output_size(OW, S, S, 0)
    RS, CS = (S - 1 + KH - 1) // S + 1, (S - 1 + KW - 1) // S + 1
    return PhasePlanes(S, PH, PW, RS, CS, PH + RS - 1)
