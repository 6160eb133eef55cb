"""Foreign text shown as text: HubSpot's and customers' strings never become Markdown, links or images.

``st.markdown``, ``st.caption``, ``st.error`` and friends render Markdown: a portal domain such as
``[log in](https://evil.test)`` or ``![x](http://listener/)`` would become a live link or a fetched image.
Every string that did not come from our own code (domains, emails, names, HubSpot's error descriptions,
scope names from responses, and error messages that may quote them) goes through :func:`md` before it
joins Markdown, or is shown with ``st.text`` / a dataframe cell. Links are built only by our code.
"""

from __future__ import annotations

import re

# Markdown's (and Streamlit's) active characters: links, images, HTML, emphasis, code, tables, math,
# emoji and colour directives, entities, autolinked emails. Backslash-escaped, CommonMark shows them as is.
_ACTIVE = re.compile(r"([\\`*_{}\[\]()<>#!|~$:@&])")
_LEADING = re.compile(r"^([-+=])")  # a list item or a heading underline only at the start of a line
_DOT_IN_WORD = re.compile(r"\.(?=\S)")
_SPACE = re.compile(r"\s+")
# Escapes do not stop GFM's autolink literals (``http://…``, ``www.…``, ``a@b.c``, ``mailto:a@b.c``): they
# run on the text after escapes are resolved. An invisible zero-width space in ``://``, after an ``@`` and
# inside ``www.`` breaks each pattern and changes nothing a reader sees.
ZWSP = "\u200b"
_WWW = re.compile(r"(www)(\\?\.)", re.IGNORECASE)
_SCHEME = re.compile(r":(?=/)")
_EMAIL_AT = re.compile(r"@(?=\w)")


def md(value: object) -> str:
    """``value`` as Markdown that renders exactly as its text, on one line, with no link, image or HTML."""
    text = _SPACE.sub(" ", str(value))
    text = _LEADING.sub(r"\\\1", _DOT_IN_WORD.sub(r"\\.", _ACTIVE.sub(r"\\\1", text)))
    text = _SCHEME.sub(":" + ZWSP, _EMAIL_AT.sub("@" + ZWSP, text))
    return _WWW.sub(r"\1" + ZWSP + r"\2", text)


_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def plain(markdown: str) -> str:
    """What a reader sees of Markdown made with :func:`md` (for tests and for non-Markdown outputs)."""
    return _UNESCAPE.sub(r"\1", markdown).replace(ZWSP, "")


def code(value: object) -> str:
    """``value`` as an inline code span: shown verbatim (no link, image, HTML or emoji is made from it), with a
    fence longer than any run of backticks inside it."""
    text = _SPACE.sub(" ", str(value))
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_or_text(value: str) -> str:
    """A scope name from a response, as inline code."""
    return code(value)
