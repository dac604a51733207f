"""Hypothesis settings for the fuzz tests: bounded and deterministic, so never a flake.

`derandomize` draws the same examples on every run and machine; no example database, so a run
does not depend on an earlier one; no deadline, since a shared CI machine's timing is noise.
The example counts are the figures docs/security.md quotes.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

__all__ = ["fuzz", "garbage_text", "header_text"]


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        # No shrinking: a failure is reported as found, and a run's length stays bounded.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# Any text (what a decoded form field or a bad client can hold).
garbage_text = st.text(max_size=300)
# What an HTTP header value can carry: Latin-1 without CR, LF or NUL.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=120
)
