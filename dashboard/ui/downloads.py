"""Download buttons: every one hands Streamlit bytes.

``st.download_button`` converts only ``str``, ``bytes``, ``BytesIO``, ``BufferedReader`` and raw files; any
other file object (a ``SpooledTemporaryFile`` from :func:`dashboard.connections.export.connections_csv_file`, a callable
returning one) raises ``MediaFileStorageError`` when clicked, and nothing downloads. Pages call
:func:`download_button` instead, which reads whatever the producer makes into bytes when the button is
clicked (deferred: the export runs on click, not on every rerun).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from streamlit.delta_generator import DeltaGenerator

Payload = bytes | str | IO[bytes]


def as_bytes(data: Payload) -> bytes:
    """``data`` as bytes; a file object is read from its start and closed."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    with data:
        data.seek(0)
        return data.read()


def download_button(where: DeltaGenerator, label: str, *, make: Callable[[], Payload], file_name: str, mime: str,
                    key: str, disabled: bool = False, help: str | None = None, stretch: bool = False) -> None:
    """A download button whose file ``make()`` produces when clicked; the page does not rerun."""
    where.download_button(label, data=lambda: as_bytes(make()), file_name=file_name, mime=mime, key=key,
                          on_click="ignore", disabled=disabled, help=help, width="stretch" if stretch else "content")
