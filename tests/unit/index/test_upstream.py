"""The index's upstream decisions as a table: local names (any visibility), tombstones,
reserved prefixes, the merge allow-list, routing by name patterns, access and the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tests.factories.index import ADMIN, Upload, user
from vestry.common.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from vestry.common.upstream_settings import parse_upstreams
from vestry.common.vocabulary import ProjectStatus
from vestry.services.index.access import ANONYMOUS
from vestry.services.index.service import IndexService
from vestry.services.index.upstream import CachedFile, UpstreamConfig

PYPI = "https://pypi.example/simple/"
TORCH = "https://torch.example/whl/"
ALICE = user("alice")
NOW = datetime.now(UTC)


def _index(engine: Engine, **kw: object) -> IndexService:
    config = UpstreamConfig(
        upstreams=parse_upstreams(f"torch*|triton={TORCH},{PYPI}"),
        **kw,  # type: ignore[arg-type]
    )
    return IndexService(engine, upstream=config)


@pytest.mark.parametrize(
    ("name", "outcome", "reason", "url"),
    [
        ("six", "proxy", "", PYPI),
        ("Six", "proxy", "", PYPI),
        ("torch", "proxy", "", TORCH),
        ("torchvision", "proxy", "", TORCH),
        ("triton", "proxy", "", TORCH),
        ("tritonclient", "proxy", "", PYPI),
        ("acme-internal", "local", "local", ""),  # private, still local
        ("acme_internal", "local", "local", ""),
        ("gone", "local", "tombstone", ""),
        ("corp-tools", "local", "reserved", ""),
        ("c0rp-tools", "local", "reserved", ""),  # look-alikes too
    ],
)
def test_decisions(
    engine: Engine, upload: Upload, name: str, outcome: str, reason: str, url: str
) -> None:
    index = _index(engine)
    upload(ALICE, "acme-internal")
    upload(ALICE, "gone")
    index.management.delete(ALICE, "gone", whole_project=True)
    org = index.orgs.create(ALICE, "corp")
    index.reserved.reserve(ADMIN, "corp-*", org.name)
    decision = index.upstream.decide(ALICE, name)
    assert (decision.outcome, decision.reason, decision.upstream_url) == (outcome, reason, url)


def test_without_upstreams_nothing_is_proxied(index: IndexService) -> None:
    assert index.upstream.decide(ALICE, "six").reason == "no-upstream"


def test_a_name_routed_to_one_upstream_never_falls_through() -> None:
    (only,) = [u for u in parse_upstreams(f"torch*={TORCH}") if u.serves("six")] or [None]
    assert only is None


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("ftp://x/simple/", "not an upstream"),
        ("=https://x/simple/", "empty"),
        ("pypi.org/simple", "not an upstream"),
    ],
)
def test_bad_upstream_settings_say_what_to_write(value: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_upstreams(value)


@pytest.mark.parametrize(("anonymous", "allowed"), [(False, False), (True, True)])
def test_anonymous_access_follows_the_setting(
    engine: Engine, upload: Upload, anonymous: bool, allowed: bool
) -> None:
    index = _index(engine, anonymous_read=anonymous)
    if allowed:
        assert index.upstream.decide(ANONYMOUS, "six").outcome == "proxy"
    else:
        with pytest.raises(Unauthenticated):
            index.upstream.decide(ANONYMOUS, "six")
    # A local name answers "local" to anyone: the local rules then decide (401/404).
    upload(ALICE, "secret-lib")
    assert index.upstream.decide(ANONYMOUS, "secret-lib").outcome == "local"


def test_merge_allow_list_and_exemptions_are_admin_events(engine: Engine, upload: Upload) -> None:
    index = _index(engine, cooldown_seconds=7 * 86400)
    upload(ALICE, "mixed")
    assert index.upstream.decide(ALICE, "mixed").outcome == "local"
    with pytest.raises(PermissionDenied):
        index.upstream.set_rule(ALICE, "mixed", "merge", True, None)
    index.upstream.set_rule(ADMIN, "mixed", "merge", True, None)
    assert index.upstream.decide(ALICE, "mixed").outcome == "merge"
    before = index.upstream.decide(ALICE, "fresh")
    assert before.cooldown_cutoff is not None
    until = datetime.now(UTC) + timedelta(days=2)
    index.upstream.set_rule(ADMIN, "fresh", "exempt", True, until)
    after = index.upstream.decide(ALICE, "fresh")
    assert after.cooldown_cutoff is None and after.exempt_until == until
    kinds = [e.kind for e in index.management.list_events(ADMIN)]
    assert {"upstream.merge", "upstream.exempt"} <= set(kinds)
    with pytest.raises(InvalidArgument):
        index.upstream.set_rule(ADMIN, "fresh", "exempt", True, datetime.now(UTC) - timedelta(1))
    index.upstream.set_rule(ADMIN, "fresh", "exempt", False, None)
    assert index.upstream.decide(ALICE, "fresh").cooldown_cutoff is not None
    assert [r.rule for r in index.upstream.list_rules(ADMIN)] == ["merge"]


def test_cached_files_stay_readable_after_the_name_becomes_local(
    engine: Engine, upload: Upload
) -> None:
    index = _index(engine)
    cached = CachedFile(
        "later",
        "later-1.0-py3-none-any.whl",
        False,
        "k" * 64,
        "a" * 64,
        10,
        PYPI,
        datetime.now(UTC),
    )
    index.upstream.record_file(ALICE, cached)
    index.upstream.record_file(ALICE, cached)  # a second gateway's record keeps the first
    upload(ALICE, "later", "5.0")
    assert index.upstream.decide(ALICE, "later").outcome == "local"
    got = index.upstream.get_file(ALICE, "later", cached.filename, False)
    assert got.sha256 == cached.sha256
    with pytest.raises(NotFound):
        index.upstream.get_file(ALICE, "later", cached.filename, True)
    fetches = [e for e in index.management.list_events(ADMIN) if e.kind == "upstream.fetch"]
    assert len(fetches) == 1
    index.management.set_status(ADMIN, "later", ProjectStatus.QUARANTINED, "malware")
    with pytest.raises(NotFound):
        index.upstream.get_file(ALICE, "later", cached.filename, False)


def test_fsck_and_gc_know_cached_upstream_blobs(engine: Engine, upload: Upload) -> None:
    index = _index(engine)
    upload(ALICE, "mine")
    cached = CachedFile("six", "six-1.0-py3-none-any.whl", False, "b" * 64, "b" * 64, 5, PYPI, NOW)
    index.upstream.record_file(ALICE, cached)
    index.upstream.record_page("six", PYPI, "c" * 64)
    refs = [r for page in index.blob_references() for r in page]
    by_key = {r.blob_key: r for r in refs}
    assert not any(r.upstream_cache for r in refs if r.project_name == "mine")
    assert by_key["b" * 64].upstream_cache and by_key["b" * 64].expected_size == 5
    assert by_key["c" * 64].upstream_cache
