"""What every command module of ``python -m dashboard`` registers with: command groups (a command whose
sub-command is required, ``api-keys create``) and argument types that refuse bad input in one line (exit 2).

Each command module exposes ``register(sub, parser_class)``, called by :func:`dashboard.cli.main.build_parser`
in the order ``--help`` lists the commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from dashboard.errors import InputError
from dashboard.hubspot.hub_ids import parse_hub_id

N = TypeVar("N", int, float)


def command_group(sub: Any, name: str, *, help: str, parser_class: type[argparse.ArgumentParser]) -> Any:
    """Register ``name`` on the CLI's subcommand table and return the table of its own sub-commands.

    The chosen sub-command lands in ``args.<name>_cmd`` (dashes as underscores); parsers made on the
    returned table are ``parser_class``, so their usage errors exit like the top-level parser's.
    """
    return sub.add_parser(name, help=help).add_subparsers(
        dest=f"{name.replace('-', '_')}_cmd", required=True, parser_class=parser_class)


def hub_id_arg(text: str) -> int:
    """A hub id argument (``--hub-id``, ``--account-id``, ``links reconsent HUB``): the one range check
    (:func:`dashboard.hubspot.hub_ids.parse_hub_id`) as an argparse error: one line, exit 2, no traceback."""
    try:
        return parse_hub_id(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.description) from None


def number_arg(convert: Callable[[str], N], accept: Callable[[N], bool], must_be: str) -> Callable[[str], N]:
    """An argparse type: ``convert`` the text (``int``, ``float``); text it refuses, or a value ``accept``
    rejects, is one line saying what it ``must be`` (``a number of days above 0``), exit 2."""
    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"must be {must_be}, not {text[:60]!r}")
        return value
    return parse
