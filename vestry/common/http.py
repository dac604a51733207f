"""HTTP header values that more than one process writes."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

__all__ = ["content_disposition", "is_link_url"]

# What a Content-Disposition may carry verbatim in a quoted string; anything else is %-encoded.
_PLAIN_FILENAME = re.compile(r"^[A-Za-z0-9._+\-]{1,255}\Z")


def content_disposition(filename: str) -> str:
    """`attachment` with the filename (RFC 6266), quoted so it can never break out of the header:
    `filename="…"` for a plain name (every valid wheel and sdist), else `filename*=UTF-8''…`
    (RFC 8187) with everything but letters and digits %-encoded."""
    if _PLAIN_FILENAME.match(filename):
        return f'attachment; filename="{filename}"'
    if not filename:
        return "attachment"
    # Whatever a stored name holds (even a lone surrogate, which no UTF-8 encoder takes), the
    # header is ASCII: a header value outside Latin-1 would make every download of it a 500.
    return f"attachment; filename*=UTF-8''{quote(filename.encode('utf-8', 'replace'), safe='')}"


def is_link_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and no whitespace or control characters:
    the only URLs Vestry accepts in metadata or shows as links (a `javascript:` or `data:` URL
    would run in whoever follows it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.netloc)
        and not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url)
    )
