"""The letter atlas: letters of scripts no matplotlib font draws, and Latin letters in
handwriting fonts, stored as bitmaps for the "not a digit" detector's training pictures."""
import numpy as np
import pytest

from scratchnet.data import atlas, nondigits


def test_bitmaps_come_back_from_their_packed_arrays_exactly():
    rng = np.random.default_rng(0)
    bitmaps = [rng.random((h, w)) > 0.5 for h, w in [(72, 31), (5, 72), (1, 1), (72, 72)]]
    arrays = atlas.pack(bitmaps, [0, 3, 3, 9], "abcd")
    assert all(a.dtype != object for a in arrays.values())
    back, names, script = atlas.unpack(arrays)
    assert names == atlas.NAMES and script.tolist() == [0, 3, 3, 9]
    for a, b in zip(bitmaps, back):
        np.testing.assert_array_equal(a, b)


def test_a_hershey_font_file_is_read_stroke_by_stroke(tmp_path):
    """One glyph a line in ASCII order: number, point count, side bearings, then points as
    letter pairs ("R" is 0) and " R" lifting the pen: a + is two strokes."""
    lines = ["  699  1JZ"] * 95
    lines[ord("+") - 32] = "  725  6E_RIR[ RIR[R"
    lines[ord("L") - 32] = "  512  4F[KFK[W["
    (tmp_path / "font.jhf").write_text("\n".join(lines) + "\n")
    glyphs = atlas.read_jhf(tmp_path / "font.jhf")
    assert len(glyphs) == 95 and glyphs[" "] == []
    assert [s.tolist() for s in glyphs["+"]] == [[[0, -9], [0, 9]], [[-9, 0], [9, 0]]]
    assert [s.tolist() for s in glyphs["L"]] == [[[-7, -12], [-7, 9], [5, 9]]]
    letter = atlas.render_strokes(glyphs["L"])
    assert max(letter.shape) == atlas.SIDE and letter[:, :letter.shape[1] // 4].mean() > 0.5  # its down-stroke
    assert letter[letter.shape[0] // 2, letter.shape[1] // 2:].sum() == 0                     # nothing right of it


def test_an_svg_stroke_font_is_read_stroke_by_stroke(tmp_path):
    """Inkscape's single-line fonts: a glyph's path of moves, lines and cubic curves, y up."""
    (tmp_path / "font.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><defs><font horiz-adv-x="500">'
        '<glyph unicode=" " glyph-name="space"/>'
        '<glyph unicode="+" d="M 0 -90 L 0 90 M -90 0 L 90 0"/>'
        '<glyph unicode="L" d="M -70 120 L -70 -90 50 -90"/>'
        '<glyph unicode="c" d="M 0 0 C 0 100 100 100 100 0"/>'
        '<glyph unicode="fi" d="M 0 0 L 1 1"/></font></defs></svg>')
    glyphs = atlas.read_svg_font(tmp_path / "font.svg")
    assert sorted(glyphs) == [" ", "+", "L", "c"] and glyphs[" "] == []   # two characters: not a letter
    assert [s.tolist() for s in glyphs["+"]] == [[[0, 90], [0, -90]], [[-90, 0], [90, 0]]]
    assert [s.tolist() for s in glyphs["L"]] == [[[-70, -120], [-70, 90], [50, 90]]]   # pairs after a line's
    (curve,) = glyphs["c"]
    assert len(curve) == 9 and curve[-1].tolist() == [100, 0] and curve[:, 1].min() == -75   # its top, y down
    with pytest.raises(ValueError, match="path command Q"):
        atlas._pen_lines("M 0 0 Q 1 1 2 2")


def test_the_stored_atlas_holds_every_script_without_its_digit_like_letters():
    with np.load(atlas.PATH, allow_pickle=False) as z:       # no objects: never pickle
        chars = "".join(chr(c) for c in z["chars"])
        shapes = z["shapes"]
    letters = atlas.letters()
    assert list(letters) == list(atlas.SCRIPTS)
    # an alphabet of 22 letters less its digit-like ones, or a script of 30 and more
    assert all(len(v) >= (15 if name.startswith("hebrew") else 30) for name, v in letters.items())
    hands = sum(len(v) for v in atlas.hand_letters().values())
    assert len(chars) == sum(len(v) for v in letters.values()) + hands == len(shapes)
    assert shapes.max(axis=1).tolist() == [atlas.SIDE] * len(shapes)
    assert not set(chars) & set(atlas.DIGIT_LIKE)
    assert not set(chars) & set("0123456789")
    # each script's own digits are not letters: Bengali's, Gujarati's, Ethiopic's numerals
    assert not any(0x9E6 <= ord(c) <= 0x9EF or 0xAE6 <= ord(c) <= 0xAEF or 0x1369 <= ord(c) <= 0x137C
                   for c in chars)


def test_the_stored_atlas_holds_every_handwriting_font_without_digit_shaped_letters():
    with np.load(atlas.PATH, allow_pickle=False) as z:
        names = [str(n) for n in z["names"]]
        chars = "".join(chr(c) for c, s in zip(z["chars"], z["script"]) if names[s] in atlas.HANDS)
    hands = atlas.hand_letters()
    assert list(hands) == list(atlas.HANDS) and not set(hands) & set(atlas.letters())
    assert all(len(v) == len(atlas.HAND_LETTERS) for v in hands.values())
    assert chars == atlas.HAND_LETTERS * len(atlas.HANDS)
    assert not set(atlas.HAND_LETTERS) & set("BDGIJOQSTZbdgijloqsz0123456789")


def test_an_atlas_letter_drawn_by_hand_is_a_picture_with_ink():
    from scratchnet.data.preprocess import to_mnist
    rng = np.random.default_rng(3)
    letter = atlas.random_letter(rng)
    assert letter.dtype == np.uint8 and set(np.unique(letter)) == {0, 255}
    assert "drawn atlas" in nondigits.FAMILIES
    assert to_mnist(nondigits.nondigit_picture("drawn atlas", rng)).max() > 0.5
    hand = atlas.random_letter(rng, "handwriting")
    assert any((hand > 0).shape == b.shape and ((hand > 0) == b).all()
               for v in atlas.hand_letters().values() for b in v)
    hand_of = {b.tobytes() + bytes(b.shape): name for name, v in atlas.hand_letters().items() for b in v}
    joined = (atlas.random_letter(rng, "joined-up") > 0 for _ in range(60))
    assert {hand_of[b.tobytes() + bytes(b.shape)] for b in joined} == set(atlas.JOINED_UP)   # those hands only
    for family in ("drawn handwriting", "typed handwriting", "drawn joined-up"):
        assert nondigits.TURNS.count(family) == nondigits.SHARES[family] == 2
        assert to_mnist(nondigits.nondigit_picture(family, rng)).max() > 0.5


def test_a_family_of_two_shares_has_two_turns_in_every_round_and_its_own_mean():
    turns = len(nondigits.TURNS)
    assert turns == len(nondigits.FAMILIES) + sum(n - 1 for n in nondigits.SHARES.values())
    assert nondigits.NEGATIVES_PER_DIGIT == nondigits.PER_FAMILY * turns
    values = np.array([float(nondigits.TURNS[i % turns] == "typed handwriting") for i in range(3 * turns + 5)])
    means = nondigits.mean_per_family(values)
    assert list(means) == list(nondigits.FAMILIES)
    assert means["typed handwriting"] == 1.0 and sum(means.values()) == 1.0
    assert values.sum() == 6 + list(nondigits.TURNS[:5]).count("typed handwriting")


def test_scripts_are_drawn_equally_often_whatever_their_number_of_letters():
    rng = np.random.default_rng(5)
    owner = {}
    for name, bitmaps in atlas.letters().items():
        for b in bitmaps:
            owner.setdefault(b.tobytes() + bytes(b.shape), name)
    drawn = [owner[(letter > 0).tobytes() + bytes(letter.shape)] for letter in
             (atlas.random_letter(rng) for _ in range(2000))]
    counts = np.array([drawn.count(name) for name in atlas.SCRIPTS])
    assert counts.min() > 0.6 * 200 and counts.max() < 1.4 * 200      # 200 each on average


def test_the_training_pictures_are_made_again_when_the_atlas_changes(tmp_path, monkeypatch):
    before = nondigits._source_hash()
    copy = tmp_path / "atlas.npz"
    copy.write_bytes(atlas.PATH.read_bytes() + b"\0")
    monkeypatch.setattr(atlas, "PATH", copy)
    assert nondigits._source_hash() != before


def test_building_without_the_argument_or_a_font_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(atlas, "PATH", tmp_path / "atlas.npz")
    with pytest.raises(SystemExit, match="^usage: python -m scratchnet.data.atlas --build$"):
        atlas.main([])
    monkeypatch.setattr(atlas, "FONTS", str(tmp_path) + "/")
    with pytest.raises(SystemExit) as e:
        atlas.main(["--build"])
    assert str(e.value).startswith(f"error: {tmp_path}/truetype/lohit-bengali/Lohit-Bengali.ttf is missing (Debian: ")
    assert "\n" not in str(e.value) and not (tmp_path / "atlas.npz").exists()


SVG = "<svg xmlns='http://www.w3.org/2000/svg'><font>{}</font></svg>"


@pytest.mark.parametrize("content, says", [
    (SVG.format("<glyph unicode='A' d='M 0 0 Q 1 1 2 2'/>"), "could not be read: path command Q is not read"),
    ("not a font", "could not be read: syntax error"),
    (SVG.format("<glyph unicode='A' d='M 0 0 L 1 1'/>"), "has no letter 'C'")])
def test_a_stroke_font_it_cannot_read_is_a_one_line_error(tmp_path, monkeypatch, content, says):
    (tmp_path / "font.svg").write_text(content)
    before = atlas.PATH.read_bytes()
    monkeypatch.setattr(atlas, "SCRIPTS", {})
    monkeypatch.setattr(atlas, "HANDS", {"broken": str(tmp_path / "font.svg")})
    with pytest.raises(SystemExit) as e:
        atlas.main(["--build"])
    assert str(e.value).startswith(f"error: {tmp_path}/font.svg {says}")
    assert "\n" not in str(e.value) and atlas.PATH.read_bytes() == before


@pytest.mark.skipif(bool(atlas.missing_fonts()),
                    reason="rebuilding the atlas needs Debian's fonts-lohit-*, fonts-sil-abyssinica, "
                           "fonts-nanum, fonts-noto-core, fonts-sil-ezra, fonts-bwht, fonts-breip, "
                           "fonts-dancingscript, fonts-kaushanscript, hershey-fonts-data and inkscape")
def test_the_stored_atlas_is_what_the_fonts_make(tmp_path):
    """The same letters; their pixels as the fonts draw them (another FreeType may smooth an
    edge pixel differently, so a few may differ)."""
    atlas.build(tmp_path / "atlas.npz")
    with np.load(tmp_path / "atlas.npz") as new, np.load(atlas.PATH) as stored:
        for key in ("chars", "script", "names"):
            np.testing.assert_array_equal(new[key], stored[key])
        assert np.abs(new["shapes"] - stored["shapes"]).max() <= 1
        if (new["shapes"] == stored["shapes"]).all():
            rebuilt, kept = atlas.unpack(new)[0], atlas.unpack(stored)[0]
            assert max(np.mean(a != b) for a, b in zip(rebuilt, kept)) < 0.02
