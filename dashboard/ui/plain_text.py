"""Foreign or typed text inside Streamlit's Markdown messages, shown as the characters it holds.

``st.error``/``st.warning``/``st.caption`` render Markdown: a domain, an e-mail or HubSpot's error text could
otherwise become a live link, an image fetch or emphasis. Tables and ``st.text`` need none of this.
"""

from __future__ import annotations

import re

# Not "." or "-": they only matter at the start of a line, and every message here starts with our own words.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~$:])")


def escape_markdown(text: str) -> str:
    """``text`` with every Markdown-significant character backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", text)
