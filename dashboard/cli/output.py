"""The CLI's standard output and error, escaped: nothing it prints reaches the terminal raw.

``python -m dashboard`` prints portal domains, user emails, app names and HubSpot's messages in tables, CSV,
JSON and error lines. Instead of trusting each ``print`` to remember, :func:`escaped_output` puts both
streams behind :class:`EscapingStream` for the whole command: every control character and bidi control is
escaped (:func:`dashboard.security.terminal_text.escape_controls`, multi-line form), while the line breaks and tabs
the output is made of stay. Table cells are also escaped one value at a time (:func:`cells`), so a value
cannot add a line or a column. ``--json`` is already escaped by ``json.dumps`` (ASCII only), and stays JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO, cast

from dashboard.security.terminal_text import escape_controls


class EscapingStream:
    """A text stream that escapes what it is given before writing it to ``target``.

    A CR at the end of one write is held back until the next: ``print`` writes a line and its ``\\n``
    separately, and the CSV writer ends rows with ``\\r\\n``; a CR is kept only as part of a CRLF.
    """

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._held_cr = False

    def write(self, text: str) -> int:
        joined = ("\r" if self._held_cr else "") + text
        self._held_cr = joined.endswith("\r")
        if self._held_cr:
            joined = joined[:-1]
        self.target.write(escape_controls(joined, multiline=True))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.target.flush()

    def end(self) -> None:
        """Write a CR still held back (the output ended with a lone CR): escaped."""
        if self._held_cr:
            self._held_cr = False
            self.target.write(escape_controls("\r"))
        self.target.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding ...: the target's
        return getattr(self.target, name)


@contextmanager
def escaped_output() -> Iterator[None]:
    """Standard output and error escaped for the duration of the block (one CLI command)."""
    out, err = sys.stdout, sys.stderr
    streams = EscapingStream(out), EscapingStream(err)
    sys.stdout, sys.stderr = cast(TextIO, streams[0]), cast(TextIO, streams[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        for stream in streams:
            stream.end()


def cells(*values: object) -> str:
    """One table line: each value escaped on its own (its tabs and line breaks too), joined by tabs."""
    return "\t".join(escape_controls(str(v)) for v in values)
