"""Foreign text shown as text: HubSpot's and customers' strings never become Markdown, links or images.

``st.markdown``, ``st.caption``, ``st.error`` and friends render Markdown: a portal domain such as
``[log in](https://evil.test)`` or ``![x](http://listener/)`` would become a live link or a fetched image.
Every string that did not come from our own code (domains, emails, names, HubSpot's error descriptions,
scope names from responses, and error messages that may quote them) goes through :func:`md` before it
joins Markdown, or is shown with :func:`shown` in ``st.text`` / a dataframe cell. Links are built only by our
code. Control characters and bidi controls are shown escaped (``\\x1b``, ``\\u202e``) by both.
"""

from __future__ import annotations

import re

from dashboard.security.terminal_text import escape_controls

# Markdown's (and Streamlit's) active characters: links, images, HTML, emphasis, code, tables, math,
# directives, entities. Backslash-escaped, CommonMark shows them as they are.
_ACTIVE = re.compile(r"([\\`*_{}\[\]()<>#!|~$:@&])")
_LEADING = re.compile(r"^([-+=])")  # a list item or a heading underline only at the start of a line
_SPACE = re.compile(r"\s+")
# Escapes do not stop GFM's autolink literals: they are found in the text after escapes are resolved. So
# anything that could become one (a URL, ``www.…``, an email address) is put in a code span instead, which
# no Markdown extension looks into; its text is unchanged.
_AUTOLINKABLE = re.compile(
    r"(?i)(?:(?:https?|ftp|mailto|xmpp):\S*"
    r"|(?<![^\s*_~(\[])www\.\S*"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)")


def _escape(text: str) -> str:
    return _ACTIVE.sub(r"\\\1", text)


def code(value: object) -> str:
    """``value`` as an inline code span: shown verbatim (no link, image, HTML or emoji is made from it), with a
    fence longer than any run of backticks inside it; control characters and bidi controls escaped."""
    text = escape_controls(_SPACE.sub(" ", str(value)))
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md(value: object) -> str:
    """``value`` as Markdown that renders as its text, on one line, with no link, image or HTML, and no control
    character or bidi control (a U+202E would show a domain reversed): those are shown escaped."""
    text = escape_controls(_SPACE.sub(" ", str(value)))
    parts: list[str] = []
    end = 0
    for match in _AUTOLINKABLE.finditer(text):
        parts += [_escape(text[end:match.start()]), code(match.group())]
        end = match.end()
    parts.append(_escape(text[end:]))
    return _LEADING.sub(r"\\\1", "".join(parts))


def code_or_text(value: str) -> str:
    """A scope name from a response, as inline code."""
    return code(value)


# Read left to right, as CommonMark does: a backslash escape or a code span, whichever starts first, so an
# escaped backtick (md's "\\`") never opens a span.
_ESCAPE_OR_CODE_SPAN = re.compile(r"\\([!-/:-@\[-`{-~])|(`+) ?(.*?) ?\2")


def plain(markdown: str) -> str:
    """What a reader sees of Markdown made with :func:`md` and :func:`code` (for tests)."""
    return _ESCAPE_OR_CODE_SPAN.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(3), markdown)


def shown(value: object) -> str:
    """Foreign text for ``st.text`` or a dataframe cell: control characters and bidi controls escaped."""
    return escape_controls(str(value))
