"""A local OIDC issuer on loopback, standing in for GitHub Actions' token service.

It has its own key pair, serves a discovery document and a JWKS over HTTP, and signs tokens
with GitHub's claim set. Its `/token` endpoint answers like ACTIONS_ID_TOKEN_REQUEST_URL: a
GET with `Authorization: bearer <request token>` and `audience=` returns `{"value": JWT}`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["LocalIssuer", "github_claims"]


def github_claims(
    repository: str = "acme/widgets",
    workflow: str = "publish.yml",
    environment: str | None = "release",
    ref: str = "refs/heads/main",
) -> dict[str, Any]:
    """GitHub's claims for a job of `repository`'s `workflow` (no iss/aud/times)."""
    owner = repository.split("/")[0]
    sub = (
        f"repo:{repository}:environment:{environment}"
        if environment
        else f"repo:{repository}:ref:{ref}"
    )
    claims: dict[str, Any] = {
        "sub": sub,
        "repository": repository,
        "repository_owner": owner,
        "repository_id": "123456",
        "repository_owner_id": "654321",
        "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "ref": ref,
        "ref_type": "branch",
        "event_name": "push",
        "runner_environment": "github-hosted",
    }
    if environment:
        claims["environment"] = environment
    return claims


class LocalIssuer:
    REQUEST_TOKEN = "local-actions-request-token"

    def __init__(self) -> None:
        self.key: rsa.RSAPrivateKey = rsa.generate_private_key(65537, 2048)
        self.kid = "key-1"
        self.extra_public: list[dict[str, Any]] = []
        self.jwks_fetches = 0
        self.claims: dict[str, Any] = github_claims()  # what /token signs next
        self.requests: list[dict[str, str]] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"})
                elif url.path == "/jwks":
                    issuer.jwks_fetches += 1
                    self._json(200, issuer.jwks())
                elif url.path == "/token":
                    auth = self.headers.get("Authorization", "")
                    audience = parse_qs(url.query).get("audience", [""])[0]
                    issuer.requests.append({"authorization": auth, "audience": audience})
                    if auth.lower() != f"bearer {issuer.REQUEST_TOKEN}":
                        self._json(401, {"message": "bad request token"})
                        return
                    self._json(200, {"value": issuer.token(aud=audience)})
                else:
                    self._json(404, {"message": "not found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def token_url(self) -> str:
        """What ACTIONS_ID_TOKEN_REQUEST_URL holds (GitHub's carries a query already)."""
        return f"{self.url}/token?api-version=2.0"

    def public_jwk(self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> Any:
        algorithm = (
            jwt.algorithms.RSAAlgorithm
            if isinstance(key, rsa.RSAPrivateKey)
            else (jwt.algorithms.ECAlgorithm)
        )
        jwk = json.loads(algorithm.to_jwk(key.public_key()))
        jwk.update(kid=kid, use="sig")
        return jwk

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk(self.key, self.kid), *self.extra_public]}

    def rotate(self) -> None:
        """A new signing key under a new kid; the old one is no longer published."""
        self.key = rsa.generate_private_key(65537, 2048)
        self.kid = f"key-{uuid.uuid4().hex[:8]}"

    def token(
        self,
        *,
        aud: str = "vestry",
        lifetime: int = 300,
        issued: float | None = None,
        key: Any = None,
        kid: str | None = None,
        algorithm: str = "RS256",
        iss: str | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time() if issued is None else issued)
        payload = {
            **self.claims,
            "iss": iss or self.url,
            "aud": aud,
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        headers = {"kid": kid or self.kid}
        signing_key = self.key if key is None else key
        return jwt.encode(payload, signing_key, algorithm=algorithm, headers=headers)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
