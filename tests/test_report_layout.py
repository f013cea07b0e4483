"""The report's word wrap: the same lines as measuring word by word, found with fewer layouts."""

import random

import pytest

from pmd_envelope.report import layout
from pmd_envelope.report.layout import text_width, wrap


def _word_by_word(text, width, size, family="DejaVu Sans", bold=False):
    """The plain greedy wrap: measure every candidate line (what wrap() must equal)."""
    out = []
    for para in str(text).split("\n"):
        line = ""
        for word in para.split(" "):
            cand = f"{line} {word}" if line else word
            if text_width(cand, size, family, bold) <= width:
                line = cand
                continue
            if line:
                out.append(line)
            line = ""
            while text_width(word, size, family, bold) > width:
                k = len(word)
                while k > 1 and text_width(word[:k], size, family, bold) > width:
                    k -= 1
                out.append(word[:k])
                word = word[k:]
            line = word
        out.append(line)
    return out


def _texts(seed, n):
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,;:-_/()[]=<>µ°±≤≥×Ωé  \n"
    for _ in range(n):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        if rng.random() < 0.25:  # a hash: a token longer than a narrow cell
            text += " " + f"{rng.getrandbits(256):064x}"
        yield (text, rng.uniform(4.0, 420.0), rng.choice([6.5, 7.0, 7.5, 8.5, 10.0, 13.0]),
               rng.choice(["DejaVu Sans", "DejaVu Sans Mono"]), rng.random() < 0.3)


@pytest.mark.parametrize("seed", [1, 2])
def test_wrap_gives_the_lines_of_the_word_by_word_wrap(seed):
    for args in _texts(seed, 100):
        assert wrap(*args) == _word_by_word(*args), args


def test_wrap_lines_fit_and_keep_every_character():
    text = ("Every parameter is measured on the closed mesh; sha256 " + "0123456789abcdef" * 4
            + "  with two spaces, and\nnew lines\n\nand an empty one.")
    for width in (3.0, 40.0, 120.0, 500.0):
        lines = wrap(text, width, 8.5)
        assert all(text_width(ln, 8.5) <= width or len(ln) == 1 for ln in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")


def test_wrap_measures_a_line_a_few_times_not_once_per_word():
    layout._width.cache_clear()
    words = " ".join(f"word{i}" for i in range(400))
    wrap(words, 300.0, 8.5)
    lines = len(wrap(words, 300.0, 8.5))
    calls = layout._width.cache_info().misses
    assert calls < 4 * lines < 400, (calls, lines)
