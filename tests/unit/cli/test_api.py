"""The CLI's one HTTP client, against a real (tiny) HTTP server on an ephemeral port."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.support.clients import BIN, clean_env
from tests.support.vestry_up import free_port
from vestry.cli.api import Api, describe_http_error
from vestry.cli.errors import CliError
from vestry.cli.main import main

PROJECT = {
    "name": "lib",
    "visibility": "private",
    "status": "active",
    "status_reason": "",
    "organization": "",
    "roles": [{"username": "alice", "role": "owner"}],
    "team_roles": [],
    "your_permissions": ["read"],
    "releases": [],
}


class _Gateway(BaseHTTPRequestHandler):
    """Answers the project API; anything else is a redirect (which must not be followed)."""

    seen: list[tuple[str, str]]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        if self.path == "/api/v1/projects/lib":
            body = json.dumps(PROJECT).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        elif self.path == "/api/v1/projects/gone":
            body = b""
            self.send_response(404)
        else:
            body = b""
            self.send_response(302)
            self.send_header("Location", "/api/v1/projects/lib")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_Gateway,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    "suffix", ["", "/", "/simple", "/simple/", "/legacy", "/legacy/"], ids=repr
)
def test_an_index_url_names_the_gateway_too(suffix: str) -> None:
    assert Api.connect("http://h:8080/pkgs" + suffix, "t").base == "http://h:8080/pkgs/api/v1"


@pytest.mark.parametrize(
    ("url", "token", "message"),
    [
        ("", "t", "no server: pass --url or set VESTRY_URL"),
        ("http://h", "", "no API token: pass --token or set VESTRY_TOKEN"),
    ],
)
def test_missing_configuration(
    monkeypatch: pytest.MonkeyPatch, url: str, token: str, message: str
) -> None:
    monkeypatch.delenv("VESTRY_URL", raising=False)
    monkeypatch.delenv("VESTRY_TOKEN", raising=False)
    with pytest.raises(CliError, match=message):
        Api.connect(url, token)


@pytest.mark.parametrize(
    ("status", "text", "message"),
    [(404, "", "404: Not Found"), (403, "  no upload permission\n", "403: no upload permission")],
)
def test_http_errors_show_the_body_or_the_reason(status: int, text: str, message: str) -> None:
    assert describe_http_error(httpx.Response(status, text=text)) == message


def test_project_show_with_an_index_url(
    gateway: tuple[str, list[tuple[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, seen = gateway
    monkeypatch.setenv("VESTRY_URL", base + "/simple/")
    monkeypatch.setenv("VESTRY_TOKEN", "vestry-secret")
    assert main(["project", "show", "lib"]) == 0
    assert capsys.readouterr().out.startswith("lib  [private, active]\n")
    assert seen == [("/api/v1/projects/lib", "Bearer vestry-secret")]


@pytest.mark.parametrize(
    ("project", "message"),
    [
        ("gone", "vestry: 404: Not Found\n"),
        # The token would travel to wherever a redirect points: never followed.
        ("moved", "vestry: 302: Found\n"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    gateway: tuple[str, list[tuple[str, str]]],
    capsys: pytest.CaptureFixture[str],
    project: str,
    message: str,
) -> None:
    base, seen = gateway
    assert main(["project", "show", project, "--url", base, "--token", "t"]) == 1
    assert capsys.readouterr().err == message
    assert len(seen) == 1


@pytest.mark.parametrize(
    "command", [["project", "show", "lib"], ["token", "list"], ["events"]], ids=" ".join
)
def test_connection_refused_is_one_line(command: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [str(BIN / "vestry"), *command],
        capture_output=True,
        text=True,
        env=clean_env(VESTRY_URL=url, VESTRY_TOKEN="t"),
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"vestry: cannot reach {url}/api/v1/")
    assert "Connection refused; check --url or VESTRY_URL" in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
