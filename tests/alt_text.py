"""What counts as real alternative text for a figure: one rule for the notebooks' metadata and for the website.

tests/test_notebooks.py applies it to each figure's `mystnb.image.alt` in the notebooks; tests/test_docs.py to every
<img> of the built site (where also the images that do not come from a notebook are, and where an image that lost
its text on the way would show).
"""

from __future__ import annotations

import re

MIN_ALT_WORDS = 15  # a sentence or two that say what the figure shows, for a reader who cannot see it
FILE_NAME = re.compile(r"\.(png|svg|jpe?g)\b|[0-9a-f]{16}")  # "37f8...png", what a renderer puts in for lack of text


def alt_text_problem(alt: str | None) -> str | None:
    """Why `alt` is not a real alternative text (missing, a file name, fewer than MIN_ALT_WORDS words), or None."""
    if not alt or not alt.strip():
        return "no alternative text"
    if FILE_NAME.search(alt):
        return f"the alternative text names a file: {alt[:100]!r}"
    words = len(alt.split())
    if words < MIN_ALT_WORDS:
        return f"a short alternative text ({words} words, fewer than {MIN_ALT_WORDS}): {alt!r}"
    return None
