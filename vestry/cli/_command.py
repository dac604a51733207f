"""What the commands that call a running gateway share: their flags, their registration."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TypeAlias
from urllib.parse import quote

from vestry.cli.api import DEFAULT_TIMEOUT

__all__ = ["Handler", "SubParsers", "add_command", "print_json", "segment"]

Handler = Callable[[argparse.Namespace], int]
# A string: argparse's class is generic only to type checkers.
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _server_flags() -> argparse.ArgumentParser:
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--url", default="", help="the gateway (default $VESTRY_URL)")
    server.add_argument("--token", default="", help="an API token (default $VESTRY_TOKEN)")
    server.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    return server


def add_command(
    parent: SubParsers, name: str, handler: Handler, help_text: str
) -> argparse.ArgumentParser:
    """Register `name` with the gateway flags; `main` runs `handler` (set as `args.handler`)."""
    p = parent.add_parser(name, help=help_text, parents=[_server_flags()])
    p.set_defaults(handler=handler)
    return p


def segment(value: str) -> str:
    """`value` as one path segment of an API URL."""
    return quote(value, safe="")


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))
