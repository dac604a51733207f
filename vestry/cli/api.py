"""The one HTTP client of every `vestry` command that talks to a running gateway.

Commands name the gateway with `--url`/`--token`, or VESTRY_URL/VESTRY_TOKEN, and call its
`/api/v1` management API. Every failure becomes a `CliError` in one sentence: no server or
token configured, the gateway unreachable, or its answer (`{status}: {body or reason}`).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

import httpx

from vestry.cli.errors import CliError

__all__ = ["DEFAULT_TIMEOUT", "Api", "describe_http_error", "describe_transport_error"]

DEFAULT_TIMEOUT = 30.0


def describe_http_error(response: httpx.Response) -> str:
    """`{status}: {body or reason}`: the gateway's own explanation, as twine and pip show it."""
    return f"{response.status_code}: {response.text.strip() or response.reason_phrase}"


def describe_transport_error(exc: httpx.HTTPError) -> str:
    """Why nothing came back, in a few words: the OS's reason when there is one."""
    if isinstance(exc, httpx.TimeoutException):
        return "no answer within the timeout"
    # httpx's text is the OS's ("[Errno 111] Connection refused"); the class name alone
    # ("ConnectError") would not say whether the host, the port or the network is wrong.
    return str(exc).strip() or type(exc).__name__


@dataclass(frozen=True)
class Api:
    """The gateway's management API at `base` (`…/api/v1`), called with `token`."""

    base: str
    token: str
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def connect(
        cls,
        url: str | None,
        token: str | None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token_needs: str = "",
    ) -> Api:
        """The API of the gateway at `url` (default $VESTRY_URL) with `token` (default
        $VESTRY_TOKEN); `token_needs` names a permission the command's token must hold.

        Raises CliError when either is missing.
        """
        url = url or os.environ.get("VESTRY_URL", "")
        token = token or os.environ.get("VESTRY_TOKEN", "")
        if not url:
            raise CliError("no server: pass --url or set VESTRY_URL (e.g. http://127.0.0.1:8080)")
        if not token:
            needs = f" (one holding {token_needs})" if token_needs else ""
            raise CliError(f"no API token: pass --token or set VESTRY_TOKEN{needs}")
        base = url.rstrip("/")
        # The index URL people already have configured (pip's, twine's) works too.
        for suffix in ("/simple", "/legacy"):
            base = base.removesuffix(suffix)
        return cls(base + "/api/v1", token, timeout)

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, token_needs: str = "") -> Api:
        """`connect` with the command's `--url`, `--token` and (if it has one) `--timeout`."""
        timeout = getattr(args, "timeout", None) or DEFAULT_TIMEOUT
        return cls.connect(args.url, args.token, timeout=timeout, token_needs=token_needs)

    @property
    def site(self) -> str:
        """The gateway itself (`base` without `/api/v1`): where /simple/ and /legacy/ are."""
        return self.base.removesuffix("/api/v1")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON answer to `method path` (None when empty).

        Raises CliError when the gateway cannot be reached or answers an error.
        """
        r = self._request(method, self.base + path, json=body)
        if r.status_code >= 300:
            raise CliError(describe_http_error(r))
        return r.json() if r.content else None

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The gateway's answer to `method path` on the site (not the management API: the
        simple API, uploads), whatever its status; `kwargs` go to httpx (data, files, headers).

        Raises CliError when the gateway cannot be reached.
        """
        return self._request(method, self.site + path, **kwargs)

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self.token}"}
        try:
            return httpx.request(
                method,
                url,
                headers=headers,
                timeout=self.timeout,
                # A redirect would carry the token to wherever it points; the API never sends one.
                follow_redirects=False,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            hint = "; check --url or VESTRY_URL" if isinstance(exc, httpx.ConnectError) else ""
            raise CliError(f"cannot reach {url}: {describe_transport_error(exc)}{hint}") from exc
