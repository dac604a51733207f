"""What the commands that call a running gateway share: their flags, their registration."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TypeAlias
from urllib.parse import quote

from vestry.cli.api import DEFAULT_TIMEOUT, Api

__all__ = ["Handler", "SubParsers", "add_command", "api_command", "print_json", "segment"]

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
    parent: SubParsers, name: str, handler: Handler, help_text: str, *positionals: str
) -> argparse.ArgumentParser:
    """Register `name` with the gateway flags and these positional arguments, in order; `main`
    runs `handler` (set as `args.handler`)."""
    p = parent.add_parser(name, help=help_text, parents=[_server_flags()])
    p.set_defaults(handler=handler)
    for positional in positionals:
        p.add_argument(positional)
    return p


def segment(value: str) -> str:
    """`value` as one path segment of an API URL."""
    return quote(value, safe="")


def api_command(
    method: str, path: str, message: str, body: dict[str, str] | None = None
) -> Handler:
    """A handler that sends one request and prints one line: the whole of many commands.

    `path` is formatted with the arguments as path segments, `message` with them as given;
    `body` maps each JSON field to the argument that fills it (None: no body).
    """

    def run(args: argparse.Namespace) -> int:
        values = vars(args)
        segments = {k: segment(v) for k, v in values.items() if isinstance(v, str)}
        json_body = None if body is None else {field: values[arg] for field, arg in body.items()}
        Api.from_args(args).call(method, path.format(**segments), json_body)
        print(message.format(**values))
        return 0

    return run


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))
