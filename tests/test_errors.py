"""The exception tree: the drawing in errors.py is the class tree, and errors keep their fields when reworded."""

from __future__ import annotations

import contextlib
import inspect
import re

from hypothesis import given
from hypothesis import strategies as st

from dashboard import errors
from dashboard.errors import (
    DashboardError,
    HubSpotError,
    InstallPendingError,
    RateLimitedError,
    RedirectUriError,
    UsageError,
)
from dashboard.settings import check_redirect_uri


def drawn_tree(doc: str) -> dict[str, str | None]:
    """Each class drawn in the docstring, with its drawn parent (None for the root)."""
    block = doc.split("::", 1)[1].split('"""', 1)[0]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        text = line.removeprefix("    ")
        match = re.match(r"^(?P<lead>(?:[│ ]   )*)(?:[├└]── )?(?P<name>[A-Z][A-Za-z]+)", text)
        if not match:
            continue
        depth = len(match["lead"]) // 4 + (0 if text.startswith(match["name"]) else 1)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def real_tree() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, DashboardError) and cls.__module__ == errors.__name__:
            base = cls.__bases__[0]
            found[name] = None if cls is DashboardError else base.__name__
    return found


def test_the_docstring_draws_exactly_the_class_tree() -> None:
    assert errors.__doc__ is not None
    drawn = drawn_tree(errors.__doc__)
    assert len(drawn) > 20  # the parser found the drawing, not an empty block
    assert drawn == real_tree()


def test_every_error_has_one_base_inside_the_tree() -> None:
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, DashboardError) and cls is not DashboardError:
            assert len(cls.__bases__) == 1, name


def test_the_tree_parser_notices_a_misplaced_class() -> None:
    assert errors.__doc__ is not None
    moved = errors.__doc__.replace("│   └── UsageError", "│       └── UsageError")
    assert drawn_tree(moved)["UsageError"] == "ScopeError"


@given(st.text(min_size=1, max_size=80), st.integers(100, 599) | st.none(),
       st.floats(0, 1e6, allow_nan=False) | st.none(), st.integers(1, 10**9))
def test_reworded_keeps_class_code_and_fields(text: str, status: int | None, retry_after: float | None,
                                              pending_id: int) -> None:
    for original in (RateLimitedError("slow down", retry_after=retry_after, status=status, hubspot_status="X"),
                     HubSpotError("boom", code="weird", status=status),
                     InstallPendingError("kept", pending_id=pending_id)):
        again = original.reworded(text)
        assert type(again) is type(original)
        assert str(again) == again.description == text
        assert again.code == original.code
        assert {k: v for k, v in vars(again).items() if k != "description"} == \
            {k: v for k, v in vars(original).items() if k != "description"}
        assert str(original) != text or original.description == text  # the original is untouched


@given(st.text(max_size=60))
def test_check_redirect_uri_raises_only_our_error(value: str) -> None:
    # Anything but our error (a ValueError from urlsplit, say) fails the test.
    assert issubclass(RedirectUriError, errors.ConfigurationError) and not issubclass(RedirectUriError, ValueError)
    with contextlib.suppress(RedirectUriError):
        assert check_redirect_uri(value) == value


def test_usage_error_is_an_input_error_in_the_tree() -> None:
    from dashboard.cli import main as cli

    assert cli.UsageError is UsageError
    assert issubclass(UsageError, errors.InputError)
