"""Letters that no matplotlib font draws, kept as small bitmaps (atlas.npz beside this file),
so that the "not a digit" detector learns from them on a machine with no system fonts:

- the letters of ten scripts: Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada,
  Malayalam, Ethiopic and Hangul (300 of its syllables). People try the letters of their own
  script on a digit reader; matplotlib's fonts cover the Latin, Greek, Cyrillic, Hebrew,
  Arabic, Armenian and Georgian alphabets and a few more (nondigits.SCRIPTS), none of South
  Asia's or Ethiopia's, nor Korean; and Hebrew in three more designs (a sans, a serif, Ezra
  SIL's), as matplotlib draws it only in DejaVu's;
- Latin letters in nine handwriting-style fonts and seven stroke fonts (HANDS): a hand's
  letters are rounder, leaner and more slanted than a typeface's, and more of them pass for a
  digit; a stroke font has one pen line along each stroke, as a hand draws, and two of them
  (Hershey's script, EMS Allure) are joined-up writing.

Each letter is rendered once, at 150 px, cropped to its ink and scaled so that its longer
side is SIDE px, a bool bitmap. The letters that look like a digit (a 0, a 2, a 3 under a
bar, a 6, a 7, a 9: DIGIT_LIKE; the Latin ones are not in HAND_LETTERS) are left out. The
file is made by

    python -m scratchnet.data.atlas --build      # needs Debian's fonts below installed

from fonts under the SIL Open Font License (Debian's fonts-lohit-beng-bengali, -guru, -gujr,
-orya, -taml, -telu, -knda, -mlym; fonts-sil-abyssinica; fonts-nanum; fonts-noto-core;
fonts-sil-ezra; fonts-bwht, fonts-breip, fonts-dancingscript, fonts-kaushanscript; the EMS
stroke fonts of Inkscape's Hershey Text extension, Debian's inkscape) and from Hershey's
fonts (Debian's hershey-fonts-data; free for any use with this acknowledgement: the Hershey
Fonts were originally created by Dr. A. V. Hershey while working at the U. S. National
Bureau of Standards; the format of the font data was originally created by James Hurt,
Cognition, Inc.). Not Devanagari (the benchmark's Lohit Devanagari) nor Chinese, nor
DejaVu's Hebrew, nor the benchmark's handwriting fonts or Hershey's script simplex:
synthetic/drawstyles.py draws those, and the detector's pictures come from other code and
other fonts than the benchmark's.
"""
import functools
import re
import sys
from pathlib import Path

import numpy as np

PATH = Path(__file__).with_name("atlas.npz")
SIDE = 72          # px, the longer side of a stored letter
FONTS = "/usr/share/fonts/"
# script: (font file under FONTS, ranges of code points: letters, not the script's digits)
SCRIPTS = {
    "bengali": ("truetype/lohit-bengali/Lohit-Bengali.ttf", [(0x985, 0x9B9)]),
    "gurmukhi": ("truetype/lohit-punjabi/Lohit-Gurmukhi.ttf", [(0xA05, 0xA39)]),
    "gujarati": ("truetype/lohit-gujarati/Lohit-Gujarati.ttf", [(0xA85, 0xAB9)]),
    "oriya": ("truetype/lohit-oriya/Lohit-Odia.ttf", [(0xB05, 0xB39)]),
    "tamil": ("truetype/lohit-tamil/Lohit-Tamil.ttf", [(0xB85, 0xBB9)]),
    "telugu": ("truetype/lohit-telugu/Lohit-Telugu.ttf", [(0xC05, 0xC39)]),
    "kannada": ("truetype/lohit-kannada/Lohit-Kannada.ttf", [(0xC85, 0xCB9)]),
    "malayalam": ("truetype/lohit-malayalam/Lohit-Malayalam.ttf", [(0xD05, 0xD39)]),
    "ethiopic": ("truetype/abyssinica/AbyssinicaSIL-Regular.ttf", [(0x1200, 0x1357)]),
    "hangul": ("truetype/nanum/NanumGothic.ttf", [(0xAC00, 0xD7A3)]),
    # Hebrew again, in designs other than DejaVu's (matplotlib's only Hebrew, and the benchmark's)
    "hebrew sans": ("truetype/noto/NotoSansHebrew-Regular.ttf", [(0x5D0, 0x5EA)]),
    "hebrew serif": ("truetype/noto/NotoSerifHebrew-Regular.ttf", [(0x5D0, 0x5EA)]),
    "hebrew ezra": ("truetype/ezra/SILEOT.ttf", [(0x5D0, 0x5EA)]),
}
# font: file under FONTS (each drawn as often, its letters HAND_LETTERS)
HANDS = {f"because we {name.lower()}": f"opentype/bwht/BecauseWe{name}-Regular.otf"
         for name in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize")}
HANDS.update({"breip": "truetype/breip/Breip.ttf",
              "dancing script": "opentype/dancingscript/DancingScript-Regular.otf",
              "kaushan script": "opentype/kaushanscript/KaushanScript-Regular.otf"})
# Hershey's stroke fonts (Debian's hershey-fonts-data): one pen line along each stroke, not
# a typeface's outline; "script complex" is joined-up writing with doubled lines
HERSHEY = "/usr/share/hershey-fonts/"
HANDS.update({f"hershey {name}": HERSHEY + file for name, file in (
    ("simplex", "futural.jhf"), ("italic", "timesi.jhf"), ("script", "scriptc.jhf"))})
# Inkscape's single-line SVG fonts (SIL Open Font License): EMS Allure joined-up, the others
# letters printed by hand
INKSCAPE = "/usr/share/inkscape/extensions/svg_fonts/"
HANDS.update({f"ems {name.lower()}": f"{INKSCAPE}EMS{name}.svg"
              for name in ("Allure", "Felix", "Elfin", "Tech")})
# the hands of joined-up writing: their looped f, hooked c and curled r pass for a digit more
# often than any print, so the detector has a family of their letters too (random_letter)
JOINED_UP = ("dancing script", "kaushan script", "hershey script", "ems allure")
HAND_LETTERS = "ACEFHKLMNPRUVWXYacefhkmnprtuvwxy"   # not B D G I J O Q S T Z b d g i j l o q s z
NAMES = list(SCRIPTS) + list(HANDS)   # atlas.npz's groups of letters, in order
HANGUL_SYLLABLES = 300     # of its 11,172, drawn at random (seeded)
DIGIT_LIKE = ("ঌওড" "ਉਊਓ" "ઇઈઉઊઙઠડઢરવહ" "ଌଓଔଠଡ" "உஒஓர" "ఒఠర" "ಒಠರ" "ഉടഠഡധഭരള"
              # Hebrew: vav, zayin, final nun (a 1), lamed, resh, final kaf (a 7), samekh,
              # final mem (a 0), yod (a speck)
              + "וזןלרךסםי"
              # Ethiopic: whole orders of a consonant shaped like a 2, 7, 0, 9 or P
              + "".join(chr(c) for a, b in [(0x1228, 0x122F), (0x1280, 0x128D), (0x1290, 0x1297),
                                            (0x12D0, 0x12D6), (0x12E8, 0x12EF), (0x1308, 0x130F),
                                            (0x1340, 0x1346)] for c in range(a, b + 1)))


def _letters(script):
    """The code points of `script` its font draws (and not DIGIT_LIKE)."""
    from fontTools.ttLib import TTFont     # matplotlib's dependency; only to build the file
    path, ranges = SCRIPTS[script]
    cmap = TTFont(FONTS + path).getBestCmap()
    found = [c for a, b in ranges for c in range(a, b + 1) if c in cmap and chr(c) not in DIGIT_LIKE]
    if script == "hangul":
        found = sorted(np.random.default_rng(2048).choice(found, HANGUL_SYLLABLES, replace=False).tolist())
    return found


def read_jhf(path):
    """A Hershey font file -> {character: [(n, 2) float points of one stroke, ...]} for the
    printable ASCII characters, one glyph a line in their order (x right, y down)."""
    glyphs = {}
    for code, line in enumerate(Path(path).read_text("ascii").splitlines()[:95], start=32):
        pairs = line[10:]                 # after the number, the count and the left/right bounds
        strokes = [[(ord(a) - 82, ord(b) - 82) for a, b in zip(part[0::2], part[1::2])]
                   for part in pairs.split(" R")]
        glyphs[chr(code)] = [np.array(s, float) for s in strokes if s]
    return glyphs


def read_svg_font(path):
    """An SVG font whose glyphs are pen lines (moves, lines and cubic curves, in absolute
    coordinates) -> {character: [(n, 2) float points of one stroke, ...]} (x right, y down)."""
    import xml.etree.ElementTree as ET
    glyphs = {}
    for glyph in ET.parse(path).iter("{http://www.w3.org/2000/svg}glyph"):
        char, path_data = glyph.get("unicode", ""), glyph.get("d", "")
        if len(char) == 1:
            glyphs[char] = [s * [1, -1] for s in _pen_lines(path_data)]   # a font's y is up
    return glyphs


def _pen_lines(path_data):
    """An SVG path of M, L and C commands -> its strokes, each curve as 8 straight steps."""
    tokens = re.findall(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", path_data)
    strokes, command, i = [], None, 0
    while i < len(tokens):
        if tokens[i].isalpha():
            command, i = tokens[i], i + 1
            if command not in "MLC":
                raise ValueError(f"path command {command} is not read")
            continue
        take = 6 if command == "C" else 2
        points = np.array(tokens[i:i + take], float).reshape(-1, 2)
        i += take
        if command == "M":
            strokes.append([points[0]])
            command = "L"                  # coordinates after a move's first pair are lines
        elif command == "L":
            strokes[-1].append(points[0])
        else:                              # a cubic Bezier curve from the pen's last point
            t = np.linspace(0, 1, 9)[1:, None]
            start, (c1, c2, end) = strokes[-1][-1], points
            strokes[-1] += list((1 - t) ** 3 * start + 3 * (1 - t) ** 2 * t * c1
                                + 3 * (1 - t) * t ** 2 * c2 + t ** 3 * end)
    return [np.array(s) for s in strokes if len(s) > 1]


def render_strokes(strokes, size=150):
    """A glyph's strokes -> (h, w) bool, drawn with a pen a fourteenth of `size` wide and
    scaled as render() scales a font's letter."""
    from PIL import Image, ImageDraw

    from .nondigits import _scaled
    from .preprocess import _crop
    points = np.concatenate(strokes)
    low, scale = points.min(axis=0), size * 0.8 / max(np.ptp(points, axis=0).max(), 1)
    pen = max(2, size // 14)
    img = Image.new("L", (size + 2 * pen, size + 2 * pen), 0)
    draw = ImageDraw.Draw(img)
    for s in strokes:
        draw.line([tuple(p) for p in (s - low) * scale + pen], fill=255, width=pen, joint="curve")
    return _scaled(_crop(np.asarray(img)), SIDE)


def render(char, font):
    """One character -> (h, w) bool, its ink cropped and scaled so the longer side is SIDE
    (as the detector's typed characters: nondigits._glyph, then nondigits._scaled)."""
    from .nondigits import _glyph, _scaled     # (nondigits imports this module)
    return _scaled(_glyph(char, font), SIDE)


def pack(bitmaps, scripts, chars):
    """Bitmaps (list of (h, w) bool), each one's index in NAMES, their characters -> the
    arrays atlas.npz holds (no objects: loads without pickle)."""
    return {"bits": np.packbits(np.concatenate([b.ravel() for b in bitmaps])),
            "shapes": np.array([b.shape for b in bitmaps], np.int32),
            "chars": np.array([ord(c) for c in chars], np.int32),
            "script": np.array(scripts, np.int32), "names": np.array(NAMES)}


def unpack(arrays):
    """The arrays of pack -> [(h, w) bool], the scripts' and hands' names, each bitmap's
    index among them."""
    shapes = arrays["shapes"]
    flat = np.unpackbits(arrays["bits"], count=int(np.prod(shapes, axis=1).sum())).astype(bool)
    ends = np.cumsum(np.prod(shapes, axis=1))
    bitmaps = [flat[e - h * w:e].reshape(h, w) for (h, w), e in zip(shapes, ends)]
    return bitmaps, [str(n) for n in arrays["names"]], arrays["script"]


def build(path=PATH):
    """Render every script's letters and every hand's from the system fonts into `path`."""
    from PIL import ImageFont
    from ..fileio import atomic_write
    bitmaps, scripts, chars = [], [], []
    sources = [(file, [chr(c) for c in _letters(script)]) for script, (file, _) in SCRIPTS.items()]
    sources += [(file, HAND_LETTERS) for file in HANDS.values()]
    for i, (font_file, letters_of_font) in enumerate(sources):
        read_strokes = {".jhf": read_jhf, ".svg": read_svg_font}.get(Path(font_file).suffix)
        if read_strokes:                   # a stroke font: its pen lines drawn
            try:
                glyphs = read_strokes(font_file)
                drawn = [render_strokes(glyphs[c]) for c in letters_of_font]
            except KeyError as e:
                raise ValueError(f"{font_file} has no letter {e}") from None
            except (OSError, ValueError, SyntaxError) as e:   # (an XML ParseError is a SyntaxError)
                raise ValueError(f"{font_file} could not be read: {e}") from None
        else:
            font = ImageFont.truetype(FONTS + font_file, 150)
            drawn = [render(c, font) for c in letters_of_font]
        bitmaps += drawn
        scripts += [i] * len(drawn)
        chars += list(letters_of_font)
    with atomic_write(path) as f:
        np.savez_compressed(f, **pack(bitmaps, scripts, chars))
    return len(bitmaps)


@functools.lru_cache(maxsize=None)
def _stored():
    """{name: [(h, w) bool]} of every stored script's and hand's letters ({} without atlas.npz)."""
    if not PATH.is_file():
        return {}
    with np.load(PATH, allow_pickle=False) as z:
        bitmaps, names, script = unpack(z)
    return {name: [b for b, s in zip(bitmaps, script) if s == i] for i, name in enumerate(names)}


def letters():
    """{script: [(h, w) bool]} of the stored letters of the scripts ({} without atlas.npz)."""
    return {name: v for name, v in _stored().items() if name in SCRIPTS}


def hand_letters():
    """{hand: [(h, w) bool]} of the stored Latin letters in handwriting fonts."""
    return {name: v for name, v in _stored().items() if name in HANDS}


GROUPS = ("atlas", "handwriting", "joined-up")   # what random_letter draws from


def groups_of(kind):
    """The stored groups of letters of `kind` (of GROUPS): "atlas" the scripts',
    "handwriting" every hand's, "joined-up" JOINED_UP's; [] without atlas.npz."""
    if kind == "atlas":
        return list(letters().values())
    return [v for name, v in hand_letters().items() if kind == "handwriting" or name in JOINED_UP]


def random_letter(rng, kind="atlas"):
    """A stored letter of `kind` (of GROUPS), bright on dark (h, w) uint8: one of its groups
    at random, each as often (Hangul's and Ethiopic's many letters do not crowd out the
    others), then one of its letters."""
    stored = groups_of(kind)
    script = stored[int(rng.integers(len(stored)))]
    return np.where(script[int(rng.integers(len(script)))], 255, 0).astype(np.uint8)


def missing_fonts():
    """The font files build() needs that this machine lacks."""
    files = [Path(FONTS, f) for f in [f for f, _ in SCRIPTS.values()] + list(HANDS.values())]   # stroke fonts': absolute
    return [str(f) for f in files if not f.is_file()]


def main(argv):
    """python -m scratchnet.data.atlas --build; a one-line error without the argument, or a
    font, or with a stroke font it cannot read (and atlas.npz untouched)."""
    if argv != ["--build"]:
        sys.exit("usage: python -m scratchnet.data.atlas --build")
    if missing_fonts():
        sys.exit(f"error: {missing_fonts()[0]} is missing (Debian: apt-get install fonts-lohit-beng-bengali "
                 "fonts-lohit-guru fonts-lohit-gujr fonts-lohit-orya fonts-lohit-taml fonts-lohit-telu "
                 "fonts-lohit-knda fonts-lohit-mlym fonts-sil-abyssinica fonts-nanum fonts-noto-core "
                 "fonts-sil-ezra fonts-bwht fonts-breip "
                 "fonts-dancingscript fonts-kaushanscript hershey-fonts-data inkscape)")
    try:
        count = build()
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(f"{count} letters written to {PATH}")


if __name__ == "__main__":
    main(sys.argv[1:])
