"""Settings of the upstream proxy, read by the index (which decides) and the gateway (which
fetches) from the same `VESTRY_UPSTREAM_*` variables. docs/proxy.md describes them."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vestry.common.durations import parse_duration

__all__ = ["Upstream", "UpstreamSettings", "parse_upstreams"]


@dataclass(frozen=True)
class Upstream:
    """One upstream index; `patterns` (fnmatch on the normalised name) limit what it serves."""

    url: str
    patterns: tuple[str, ...] = ()

    def serves(self, normalized: str) -> bool:
        return not self.patterns or any(fnmatch.fnmatchcase(normalized, p) for p in self.patterns)


def parse_upstreams(value: str) -> tuple[Upstream, ...]:
    """`VESTRY_UPSTREAM_URL`: comma-separated upstreams, in order; each is `URL` or
    `PATTERN|PATTERN=URL` (e.g. `torch*|triton=https://download.pytorch.org/whl/cpu/,
    https://pypi.org/simple/`). Raises ValueError with what to write instead."""
    out: list[Upstream] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        patterns: tuple[str, ...] = ()
        scheme = entry.find("://")
        eq = entry.find("=")
        if 0 <= eq < scheme:
            patterns = tuple(p.strip().lower() for p in entry[:eq].split("|") if p.strip())
            entry = entry[eq + 1 :].strip()
            if not patterns:
                raise ValueError(f"{raw.strip()!r}: name patterns before '=' are empty")
        if not entry.startswith(("http://", "https://")):
            raise ValueError(
                f"{raw.strip()!r} is not an upstream: write URL or PATTERN|PATTERN=URL, "
                "URLs starting with http:// or https://"
            )
        out.append(Upstream(entry if entry.endswith("/") else entry + "/", patterns))
    return tuple(out)


class UpstreamSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VESTRY_UPSTREAM_", extra="ignore", frozen=True)

    # Off by default. See parse_upstreams for the format.
    url: str = ""
    # Upstream files younger than this (by upload-time) are held back: "7d", "36h"; "" = off.
    cooldown: str = ""
    # During a cooldown, files whose page gives no upload-time: served (true) or held (false).
    cooldown_serve_undated: bool = True
    # Proxied pages and files readable without a token; unset: only when
    # VESTRY_INDEX_DEFAULT_VISIBILITY=public.
    anonymous_read: bool | None = None
    # Upstream pages are fetched again after this many seconds; errors serve the stale copy.
    page_ttl: float = Field(default=600.0, ge=0)
    # An upstream 404 is remembered this long.
    negative_ttl: float = Field(default=300.0, ge=0)
    # Every upstream request is bounded: connect, and each read, within this many seconds.
    timeout: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        parse_upstreams(value)
        return value

    @field_validator("cooldown")
    @classmethod
    def _valid_cooldown(cls, value: str) -> str:
        if value.strip() not in ("", "0"):
            parse_duration(value)
        return value

    @property
    def upstreams(self) -> tuple[Upstream, ...]:
        return parse_upstreams(self.url)

    @property
    def enabled(self) -> bool:
        return bool(self.upstreams)

    @property
    def cooldown_seconds(self) -> int:
        value = self.cooldown.strip()
        return 0 if value in ("", "0") else parse_duration(value)
