"""Property: any chain of offline attenuations is never wider than its parent, and the server
accepts every link without changing any state."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.support.auth import NOW, snapshot
from vestry.services.auth import tokens
from vestry.services.auth.caveats import (
    PERMISSIONS,
    Caveat,
    Expiry,
    Permissions,
    ProjectIds,
    ProjectNames,
    Scope,
    UserBound,
)
from vestry.services.auth.service import AuthService

PROJECTS = ["foo", "bar", "baz", "Foo_Bar", "qux.quux"]
perm_lists = st.lists(st.sampled_from(sorted(PERMISSIONS)), max_size=3)
step = st.fixed_dictionaries(
    {
        "projects": st.lists(st.sampled_from(PROJECTS), max_size=3),
        "permissions": perm_lists,
        "expires_in": st.none() | st.integers(min_value=1, max_value=10**8),
    }
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(chain=st.lists(step, min_size=1, max_size=6))
def test_offline_chains_never_widen_and_change_nothing(
    service: AuthService, engine: Engine, chain: list[dict[str, object]]
) -> None:
    user = service.create_user(f"prop-{uuid.uuid4().hex[:12]}")  # one per example
    root, _ = service.mint(
        requested=Scope(permissions=frozenset({"read", "upload", "manage-tokens"})),
        for_user=user.name,
    )
    parent_scope = service.verify(root).scope
    service.last_used.flush()
    before = snapshot(engine)
    token = root
    for restriction in chain:
        token = tokens.attenuate(token, now=NOW, **restriction)  # type: ignore[arg-type]
        scope = service.verify(token).scope  # accepted
        assert scope.within(parent_scope)
        parent_scope = scope
    assert snapshot(engine) == before


def _caveats() -> st.SearchStrategy[Caveat]:
    names = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)
    ts = st.integers(min_value=0, max_value=10**10)
    return st.one_of(
        st.builds(lambda a, b: Expiry(max(a, b), min(a, b)), ts, ts),
        st.builds(lambda n: ProjectNames(tuple(n)), names),
        st.builds(lambda n: ProjectIds(tuple(n)), names),
        st.builds(
            lambda p: Permissions(tuple(p)),
            st.lists(st.sampled_from(sorted(PERMISSIONS)), min_size=1, max_size=5, unique=True),
        ),
        st.builds(UserBound, st.sampled_from(["u1", "u2"])),
    )


@settings(max_examples=500)
@given(first=st.lists(_caveats(), max_size=6), more=st.lists(_caveats(), max_size=6))
def test_narrowing_any_scope_by_any_caveats_stays_within(
    first: list[Caveat], more: list[Caveat]
) -> None:
    parent = Scope()
    for c in first:
        parent = parent.narrow(c)
    child = parent
    for c in more:
        child = child.narrow(c)
        assert child.within(parent)
    # Re-minting from the parent's caveats (what Mint does) gives back no wider a scope.
    again = Scope()
    for c in parent.caveats():
        again = again.narrow(c)
    assert again.within(parent)
