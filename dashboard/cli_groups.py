"""Command groups of ``python -m dashboard``: a command whose sub-command is required (``api-keys create``)."""

from __future__ import annotations

import argparse
from typing import Any


def command_group(sub: Any, name: str, *, help: str, parser_class: type[argparse.ArgumentParser]) -> Any:
    """Register ``name`` on the CLI's subcommand table and return the table of its own sub-commands.

    The chosen sub-command lands in ``args.<name>_cmd`` (dashes as underscores); parsers made on the
    returned table are ``parser_class``, so their usage errors exit like the top-level parser's.
    """
    return sub.add_parser(name, help=help).add_subparsers(
        dest=f"{name.replace('-', '_')}_cmd", required=True, parser_class=parser_class)
