"""The README fits on a screen and sends readers only to files that exist (issue 15, item 7).

Checked for README.md and every page under docs/ it links to: each relative link resolves to a file in the
repository, and a ``#fragment`` into a Markdown file names one of its headings (GitHub's anchor rule).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
MAX_README_LINES = 200

# [text](target) and ![alt](target); the target ends at whitespace or ")". Code spans are removed first.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _links(markdown: str) -> list[str]:
    text = _CODE_SPAN.sub("", _CODE_BLOCK.sub("", markdown))
    return _LINK.findall(text)


def _anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = _CODE_SPAN.sub(lambda m: m.group(0).strip("`"), heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _CODE_BLOCK.sub("", path.read_text(encoding="utf-8"))
    return {_anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+)$", text, re.M)}


def _documents() -> list[Path]:
    """README.md and every Markdown file it links to (docs/...)."""
    docs = [README]
    for target in _links(README.read_text(encoding="utf-8")):
        path = (REPO / target.split("#", 1)[0]).resolve()
        if path.suffix == ".md" and path.is_file() and path not in docs:
            docs.append(path)
    return docs


def test_readme_fits_on_a_screen() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"


@pytest.mark.parametrize("doc", _documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_to_a_file_in_the_repo(doc: Path) -> None:
    broken = []
    for target in _links(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... (not files in the repo)
            continue
        file_part, _, fragment = target.partition("#")
        path = (doc.parent / file_part).resolve() if file_part else doc
        missing = not path.is_relative_to(REPO) or not path.is_file()
        if missing or (fragment and path.suffix == ".md" and fragment not in _anchors(path)):
            broken.append(target)
    assert not broken, f"{doc.relative_to(REPO)}: links that resolve to no file or heading: {broken}"


def test_the_link_checker_catches_a_broken_link() -> None:
    assert _links("see [x](docs/nope.md) and `[y](ignored.md)` and ![s](docs/screenshots/a.png)") == [
        "docs/nope.md", "docs/screenshots/a.png"]
    assert _anchor("Running at scale") == "running-at-scale"
    assert _anchor("Controls (`/_sandbox/`)") == "controls-_sandbox"
