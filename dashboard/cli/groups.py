"""Command groups of ``python -m dashboard``: a command whose sub-command is required (``api-keys create``)."""

from __future__ import annotations

import argparse
from typing import Any

from dashboard.errors import InputError
from dashboard.hubspot.hub_ids import parse_hub_id


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
