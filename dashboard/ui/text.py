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
_DOT_IN_WORD = re.compile(r"\.(?=\S)")  # "www.evil.test" must not be autolinked
_SPACE = re.compile(r"\s+")


def md(value: object) -> str:
    """``value`` as Markdown that renders exactly as its text, on one line."""
    text = _SPACE.sub(" ", str(value))
    return _LEADING.sub(r"\\\1", _DOT_IN_WORD.sub(r"\\.", _ACTIVE.sub(r"\\\1", text)))


_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def plain(markdown: str) -> str:
    """What a reader sees of Markdown made with :func:`md` (for tests and for non-Markdown outputs)."""
    return _UNESCAPE.sub(r"\1", markdown)


def code_or_text(value: str) -> str:
    """A scope name as inline code; one that could close the code span (a backtick) as escaped text."""
    return f"`{value}`" if "`" not in value and "\n" not in value else md(value)
