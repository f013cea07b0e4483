"""Page layout in points: text measured with the font's own metrics, wrapped to its box, tables
whose rows grow with their text and continue on the next page.

Text is measured with FreeType at the font size without hinting, which is how the PDF backend
lays glyphs out (the Agg renderer's hinted widths run ~6 % short), so a line that measures
inside its cell is inside it on paper. Every cell is drawn as its own rectangle, so a test can
check each text object against the cell that holds it (tests/test_report.py).
"""

from __future__ import annotations

import functools

__all__ = ["Flow", "text_width", "wrap"]

PT = 72.0
MARGIN = 36.0         # left/right page margin [pt] (~12.7 mm)
TOP = 40.0            # first line below the page top [pt]
BOTTOM = 48.0         # lowest content line above the page bottom [pt]: the footer sits below
CELL_PAD = 3.0        # cell padding [pt]
LEADING = 1.22        # line height / font size
GREY = "#444444"


@functools.lru_cache(maxsize=8)
def _font(family: str):
    from matplotlib.font_manager import FontProperties, findfont, get_font

    return get_font(findfont(FontProperties(family=family)))


@functools.lru_cache(maxsize=65536)
def _width(text: str, size: float, family: str, bold: bool) -> float:
    from matplotlib.font_manager import FontProperties, findfont, get_font
    from matplotlib.ft2font import LoadFlags

    font = get_font(findfont(FontProperties(family=family, weight="bold" if bold else "normal")))
    font.set_size(size, 72)
    font.set_text(text, 0.0, flags=LoadFlags.NO_HINTING)
    return font.get_width_height()[0] / 64.0


def text_width(text: str, size: float, family: str = "DejaVu Sans", bold: bool = False) -> float:
    """Width of one line of text [pt] as the PDF lays it out."""
    return _width(text, float(size), family, bold)


def wrap(text: str, width: float, size: float, family: str = "DejaVu Sans", bold: bool = False) -> list[str]:
    """Greedy word wrap to ``width`` [pt]; a word longer than a line (a hash, a path) is broken.

    Each line is the longest run of words that fits (greedy). A line's width never shrinks as
    words are appended (the ink box only grows to the right), so instead of measuring every
    candidate the run is found from a guess at the line's mean character width and confirmed by
    measuring the run and the run plus one word: two or three FreeType layouts per line instead
    of one per word (a report's first render spent 0.75 s here). The lines are the same as word
    by word (tested).
    """
    def fits(s: str) -> bool:
        return text_width(s, size, family, bold) <= width

    out: list[str] = []
    for para in str(text).split("\n"):
        words = para.split(" ")
        line, j = "", 0
        while j < len(words):
            if not line:  # a line starts with the next word, broken if it is longer than a line
                word = words[j]
                j += 1
                while not fits(word):
                    k = _longest_fitting(word, fits)
                    out.append(word[:k])
                    word = word[k:]
                line = word
                continue
            m = _run_that_fits(line, words, j, fits, text_width(line, size, family, bold), width)
            if m:
                line = " ".join([line] + words[j:j + m])
                j += m
            if j < len(words):  # the next word does not fit on this line
                out.append(line)
                line = ""
        out.append(line)
    return out


def _run_that_fits(line: str, words: list[str], j: int, fits, used: float, width: float) -> int:
    """Largest m with ``line + " " + " ".join(words[j:j + m])`` within the width (monotone in m)."""
    def joined(m: int) -> str:
        return " ".join([line] + words[j:j + m])

    n = len(words) - j
    # guess from the mean width of the line's characters so far
    per_char = used / max(len(line), 1)
    room, m = (width - used) / max(per_char, 1e-9), 0
    while m < n and room >= len(words[j + m]) + 1:
        room -= len(words[j + m]) + 1
        m += 1
    if m and not fits(joined(m)):
        m -= 1
        while m and not fits(joined(m)):
            m -= 1
        return m
    while m < n and fits(joined(m + 1)):
        m += 1
    return m


def _longest_fitting(word: str, fits) -> int:
    """Longest prefix of ``word`` within the width, at least one character (bisection: monotone)."""
    lo, hi = 1, len(word)  # the answer lies in [lo, hi]; the whole word does not fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(word[:mid]):
            lo = mid
        else:
            hi = mid - 1
    return lo


class Flow:
    """Content flowing down A4 pages: headings, paragraphs, tables and reserved boxes for charts.

    Positions are in points from the top-left corner; ``y`` is the next free line.
    """

    def __init__(self, plt, size, title: str, figures: list):
        self.plt, self.size, self.title, self.figures = plt, size, title, figures
        self.W, self.H = size[0] * PT, size[1] * PT
        self.width = self.W - 2 * MARGIN
        self.fig = None
        self.y = 0.0
        self.new_page()

    # -- coordinates -------------------------------------------------------------------------
    def fx(self, x_pt: float) -> float:
        return x_pt / self.W

    def fy(self, y_pt: float) -> float:
        return 1.0 - y_pt / self.H

    def rect(self, x, y, w, h):
        """Figure-fraction rectangle [left, bottom, width, height] of a box given in points."""
        return [x / self.W, 1.0 - (y + h) / self.H, w / self.W, h / self.H]

    @property
    def left(self) -> float:
        return self.H - BOTTOM - self.y

    # -- pages -------------------------------------------------------------------------------
    def new_page(self, continued: bool = False):
        self.fig = self.plt.figure(figsize=self.size)
        self.figures.append(self.fig)
        self.y = TOP
        self.heading(self.title + (" (continued)" if continued else ""), 13)
        return self.fig

    def need(self, h: float, continued: bool = True) -> None:
        """Start a new page unless ``h`` points fit on this one."""
        if h > self.left:
            self.new_page(continued)

    # -- text --------------------------------------------------------------------------------
    def text(self, x, y, s, size=8.5, **kw):
        """One line of text with its top at (x, y) [pt]."""
        return self.fig.text(self.fx(x), self.fy(y), s, fontsize=size, va="top", ha=kw.pop("ha", "left"), **kw)

    def heading(self, text: str, size: float = 11, gap: float = 6.0) -> None:
        self.need(size * 3)
        self.text(MARGIN, self.y, text, size, weight="bold")
        self.y += size * LEADING + gap

    def paragraph(self, text: str, size: float = 8.5, x: float | None = None, width: float | None = None,
                  gap: float = 4.0, **kw) -> None:
        x = MARGIN if x is None else x
        width = self.width - (x - MARGIN) if width is None else width
        bold = kw.get("weight") == "bold"
        for line in wrap(text, width, size, bold=bold):
            self.need(size * LEADING)
            self.text(x, self.y, line, size, **kw)
            self.y += size * LEADING
        self.y += gap

    def lines_height(self, text: str, width: float, size: float) -> float:
        return len(wrap(text, width, size)) * size * LEADING

    # -- tables ------------------------------------------------------------------------------
    def table(self, header, rows, widths, *, size: float = 7.5, colours=None, mono: tuple = (),
              title: str | None = None, gap: float = 10.0) -> None:
        """A table across the text width; ``widths`` are fractions of it. Rows grow to hold
        their wrapped text, and the table continues on the next page (header repeated)."""
        from matplotlib.patches import Rectangle

        cols = [w * self.width for w in widths]
        lead = size * LEADING

        def cell_lines(row, bold=False):
            out = []
            for c, (text, w) in enumerate(zip(row, cols)):
                fam = "DejaVu Sans Mono" if (c in mono and not bold) else "DejaVu Sans"
                sz = size - 0.5 if c in mono and not bold else size
                out.append((wrap("" if text is None else str(text), w - 2 * CELL_PAD, sz, fam, bold), fam, sz))
            return out

        def row_height(lines):
            return max(len(ls) for ls, _, _ in lines) * lead + 2 * CELL_PAD - (lead - size) * 0.5

        def draw(lines, height, fill=None, colour=None):
            x = MARGIN
            for c, ((ls, fam, sz), w) in enumerate(zip(lines, cols)):
                x0, y0, ww, hh = self.rect(x, self.y, w, height)
                self.fig.add_artist(Rectangle((x0, y0), ww, hh, transform=self.fig.transFigure,
                                              facecolor=fill or "none", edgecolor="#666666", lw=0.4))
                col = colour if (colour and c == len(cols) - 1) else "black"
                for k, line in enumerate(ls):
                    if line:
                        self.text(x + CELL_PAD, self.y + CELL_PAD + k * lead, line, sz, family=fam, color=col,
                                  weight="bold" if fill else "normal")
                x += w
            self.y += height

        head = cell_lines(header, bold=True)
        hh = row_height(head)
        rows = list(rows) or [["(none)"] + [""] * (len(header) - 1)]
        if title is not None:
            self.need(13 * LEADING + hh + row_height(cell_lines(rows[0])) + 6)
            self.heading(title)
        first = True
        for i, row in enumerate(rows):
            lines = cell_lines(row)
            h = row_height(lines)
            if first or h > self.left:
                if not first or hh + h > self.left:
                    self.new_page(True)
                    if title is not None:
                        self.heading(f"{title} (continued)")
                draw(head, hh, fill="#e8e8e8")
                first = False
            draw(lines, h, colour=None if colours is None else colours[i])
        self.y += gap

    def box(self, height: float, continued: bool = True) -> tuple[float, float]:
        """Reserve ``height`` points for a chart; returns its (top, height) on the current page."""
        self.need(height, continued)
        top = self.y
        self.y += height
        return top, height
