"""A small HTTP client for the operator commands (`vestry user`, `vestry projects`, `vestry
downloads`, `vestry import`): a gateway URL and an API token from flags or VESTRY_URL /
VESTRY_TOKEN, one-sentence errors.

Kept apart from vestry/cli/projects.py's own on purpose, until the CLI has one shared client.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["ApiError", "api_client", "call", "run_handler", "server_options"]

Handler = Callable[[argparse.Namespace], int]


class ApiError(Exception):
    """A refusal or an unreachable server, in one sentence for the terminal."""


def server_options() -> argparse.ArgumentParser:
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--url", default="", help="the gateway (default $VESTRY_URL)")
    server.add_argument("--token", default="", help="an API token (default $VESTRY_TOKEN)")
    server.add_argument("--timeout", type=float, default=30.0)
    return server


def api_client(args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get("VESTRY_URL", "")
    token = args.token or os.environ.get("VESTRY_TOKEN", "")
    if not url:
        raise ApiError("no server: pass --url or set VESTRY_URL (e.g. http://127.0.0.1:8080)")
    if not token:
        raise ApiError("no API token: pass --token or set VESTRY_TOKEN")
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=args.timeout,
    )


def call(
    client: httpx.Client,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, Any] | None = None,
) -> Any:
    try:
        r = client.request(method, path, json=body, params=params)
    except httpx.HTTPError as exc:
        raise ApiError(f"cannot reach {client.base_url}: {exc}") from exc
    if r.status_code >= 400:
        raise ApiError(f"{r.status_code}: {r.text.strip()}")
    return r.json() if r.content else None


def run_handler(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ApiError as exc:
            print(f"vestry: {exc}", file=sys.stderr)
            return 1

    return run
