"""Content negotiation honouring q-values: PEP 691 media types on `Accept`, gzip on
`Accept-Encoding`."""

from __future__ import annotations

import functools

__all__ = ["HTML", "HTML_V1", "JSON", "accepts_gzip", "choose"]

JSON = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
HTML = "text/html"
LATEST_JSON = "application/vnd.pypi.simple.latest+json"
LATEST_HTML = "application/vnd.pypi.simple.latest+html"

# What we can serve, in our order of preference when the client's q-values tie.
_OFFERS = (JSON, HTML_V1, HTML)
_ALIASES = {LATEST_JSON: JSON, LATEST_HTML: HTML_V1}


def _parse(accept: str) -> list[tuple[str, float]]:
    out = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                q = min(max(q, 0.0), 1.0)
        out.append((media, q))
    return out


def _quality(offer: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The q of the most specific range matching `offer` and how specific it was."""
    best: tuple[float, int] = (-1.0, -1)
    otype = offer.split("/")[0]
    for media, q in ranges:
        media = _ALIASES.get(media, media)
        if media == offer:
            spec = 2
        elif media == f"{otype}/*":
            spec = 1
        elif media == "*/*":
            spec = 0
        else:
            continue
        if spec > best[1]:
            best = (q, spec)
    return best


# Clients send the same few headers over and over: pure functions of them, remembered. Bounded,
# so a client sending a new header each time only evicts.
@functools.lru_cache(maxsize=256)
def choose(accept: str | None) -> str | None:
    """The media type to answer with, or None when nothing acceptable can be served (406)."""
    if not accept or not accept.strip():
        return HTML  # no preference stated: the classic PEP 503 page
    ranges = _parse(accept)
    best_offer, best_q = None, 0.0
    for offer in _OFFERS:
        q, spec = _quality(offer, ranges)
        if spec >= 0 and q > best_q:
            best_offer, best_q = offer, q
    return best_offer


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether gzip is acceptable (RFC 9110 §12.5.3): named, or covered by `*`, with q > 0."""
    if not accept_encoding:
        return False
    ranges = dict(_parse(accept_encoding))
    for coding in ("gzip", "x-gzip", "*"):
        if coding in ranges:
            return ranges[coding] > 0
    return False
