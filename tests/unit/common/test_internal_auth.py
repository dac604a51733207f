from __future__ import annotations

import pytest

from vestry.common.internal_auth import MAX_AGE_SECONDS, mint_credential, verify_credential

SECRET = b"s" * 32


def test_fresh_credential_verifies() -> None:
    assert verify_credential(SECRET, mint_credential(SECRET, now=1000), now=1000)
    assert verify_credential(SECRET, mint_credential(SECRET, now=1000), now=1000 + MAX_AGE_SECONDS)


@pytest.mark.parametrize(
    ("credential", "now"),
    [
        (mint_credential(SECRET, now=1000), 1000 + MAX_AGE_SECONDS + 1),  # too old
        (mint_credential(SECRET, now=1000), 900),  # from the far future
        (mint_credential(b"t" * 32, now=1000), 1000),  # another secret
        ("", 1000),
        ("v1.1000", 1000),
        ("v2.1000.abc", 1000),
        ("v1.-5.abc", 1000),
        ("v1.1000." + "0" * 64, 1000),
    ],
)
def test_bad_credentials_are_refused(credential: str, now: float) -> None:
    assert not verify_credential(SECRET, credential, now=now)


def test_signature_covers_the_timestamp() -> None:
    _, _, signature = mint_credential(SECRET, now=1000).split(".")
    assert not verify_credential(SECRET, f"v1.1001.{signature}", now=1001)
