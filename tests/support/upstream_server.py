"""A tiny upstream index on loopback for the proxy's tests: a PEP 503 tree, or PEP 691 JSON
with upload-times the test chooses, negotiated on Accept; it logs every request and can be
told to misbehave (wrong bytes, slowness, errors)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass
class UpFile:
    filename: str
    data: bytes
    upload_time: datetime | None = None
    yanked: str | bool = False
    requires_python: str = ""
    metadata: bytes | None = None
    served: bytes | None = None  # bytes actually sent, when they must differ from `data`

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Upstream:
    projects: dict[str, list[UpFile]] = field(default_factory=dict)
    json: bool = True  # offer PEP 691 JSON (else HTML only, a static PEP 503 tree)
    status: int = 200  # answer everything with this status instead
    delay: float = 0.0  # seconds before answering
    chunk_delay: float = 0.0  # seconds between 64 KiB chunks of a file
    log: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def requests_for(self, fragment: str) -> int:
        with self.lock:
            return sum(fragment in line for line in self.log)

    def count(self, path: str) -> int:
        """Requests for exactly this path."""
        with self.lock:
            return self.log.count(path)

    def page_json(self, name: str) -> bytes:
        files: list[dict[str, Any]] = []
        for f in self.projects[name]:
            entry: dict[str, Any] = {
                "filename": f.filename,
                "url": f"../../files/{f.filename}",
                "hashes": {"sha256": f.sha256},
                "requires-python": f.requires_python or None,
                "yanked": f.yanked,
                "size": len(f.data),
                "core-metadata": {"sha256": hashlib.sha256(f.metadata).hexdigest()}
                if f.metadata
                else False,
            }
            if f.upload_time is not None:
                entry["upload-time"] = f.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            files.append(entry)
        doc = {
            "meta": {"api-version": "1.4", "_last-serial": 7},
            "name": name,
            "files": files,
            "versions": sorted({f.filename.split("-")[1] for f in self.projects[name]}),
            "project-status": {"status": "active"},
        }
        return json.dumps(doc).encode()

    def page_html(self, name: str) -> bytes:
        rows = []
        for f in self.projects[name]:
            attrs = f'href="/files/{f.filename}#sha256={f.sha256}"'
            if f.requires_python:
                attrs += f' data-requires-python="{f.requires_python.replace(">", "&gt;")}"'
            if f.yanked:
                attrs += f' data-yanked="{f.yanked if isinstance(f.yanked, str) else ""}"'
            if f.metadata:
                attrs += (
                    f' data-dist-info-metadata="sha256={hashlib.sha256(f.metadata).hexdigest()}"'
                )
            rows.append(f"<a {attrs}>{f.filename}</a><br/>")
        return ("<html><body>" + "\n".join(rows) + "</body></html>").encode()

    def start(self) -> Upstream:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes: without this, delayed ACKs add
                # 40 ms to every keep-alive request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                with upstream.lock:
                    upstream.log.append(self.path)
                if upstream.delay:
                    time.sleep(upstream.delay)
                if upstream.status != 200:
                    return self._send(upstream.status, b"upstream trouble\n")
                parts = [unquote(p) for p in self.path.split("/") if p]
                if len(parts) == 2 and parts[0] == "simple" and parts[1] in upstream.projects:
                    accept = self.headers.get("Accept", "")
                    if upstream.json and "vnd.pypi.simple.v1+json" in accept:
                        return self._send(
                            200, upstream.page_json(parts[1]), "application/vnd.pypi.simple.v1+json"
                        )
                    return self._send(200, upstream.page_html(parts[1]), "text/html")
                if len(parts) == 2 and parts[0] == "files":
                    for files in upstream.projects.values():
                        for f in files:
                            if parts[1] == f.filename:
                                return self._file(f.served if f.served is not None else f.data)
                            if f.metadata and parts[1] == f.filename + ".metadata":
                                return self._send(200, f.metadata)
                return self._send(404, b"not found\n")

            def _file(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                step = 64 * 1024
                try:
                    for i in range(0, len(data), step):
                        self.wfile.write(data[i : i + step])
                        self.wfile.flush()
                        if upstream.chunk_delay:
                            time.sleep(upstream.chunk_delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
