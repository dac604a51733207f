from __future__ import annotations

import pytest

from vestry.gateway.page_cache import PageCache


def test_hit_only_for_the_same_project_and_serial() -> None:
    cache = PageCache(max_bytes=1_000_000)
    cache.store("p", "id-1", 5, "html", b"<html>", '"e"')
    assert cache.serial("p") == 5
    assert cache.lookup("p", "id-1", 5, "html") == (b"<html>", '"e"')
    assert cache.lookup("p", "id-1", 6, "html") is None  # a newer serial: re-render
    assert cache.lookup("p", "id-2", 5, "html") is None  # deleted and re-created project
    assert cache.lookup("p", "id-1", 5, "json") is None  # other format not rendered yet


def test_a_new_serial_replaces_both_formats() -> None:
    cache = PageCache(max_bytes=1_000_000)
    cache.store("p", "id", 1, "html", b"old html", '"a"')
    cache.store("p", "id", 1, "json", b"old json", '"b"')
    cache.store("p", "id", 2, "json", b"new json", '"c"')
    assert cache.lookup("p", "id", 2, "json") == (b"new json", '"c"')
    assert cache.lookup("p", "id", 2, "html") is None


def test_evicts_least_recently_used_within_the_byte_budget() -> None:
    cache = PageCache(max_bytes=400)
    for name in ("a", "b", "c"):
        cache.store(name, name, 1, "html", b"x" * 100, '"e"')
    cache.lookup("a", "a", 1, "html")  # a is now the most recently used
    cache.store("d", "d", 1, "html", b"x" * 100, '"e"')
    cache.store("e", "e", 1, "html", b"x" * 100, '"e"')
    assert cache.serial("b") == 0  # evicted first
    assert cache.serial("a") == 1


def test_a_page_larger_than_a_quarter_of_the_budget_is_not_kept() -> None:
    cache = PageCache(max_bytes=400)
    cache.store("small", "s", 1, "html", b"x" * 50, '"e"')
    cache.store("huge", "h", 1, "html", b"x" * 200, '"e"')
    assert cache.serial("huge") == 0
    assert cache.serial("small") == 1


def test_codings_are_separate_variants_of_one_page_and_go_with_it() -> None:
    cache = PageCache(max_bytes=1_000_000)
    cache.store("p", "id", 1, "json", b"plain", '"a"')
    cache.store("p", "id", 1, "json", b"packed", '"a-gzip"', encoding="gzip")
    assert cache.lookup("p", "id", 1, "json") == (b"plain", '"a"')
    assert cache.lookup("p", "id", 1, "json", "gzip") == (b"packed", '"a-gzip"')
    assert cache.lookup("p", "id", 1, "html", "gzip") is None
    cache.store("p", "id", 2, "json", b"newer", '"b"')  # a new serial drops every variant
    assert cache.lookup("p", "id", 2, "json", "gzip") is None


@pytest.mark.parametrize("variants", [["json"], ["json", "html"], ["json", "json-gzip"]])
def test_a_listing_keeps_the_serial_it_shows_while_held_under_another(variants: list[str]) -> None:
    cache = PageCache(1 << 20)
    cache.store("anon", "", 100, "json", b"a", '"a"', shown=7)
    for v in variants[1:]:
        media, _, encoding = v.partition("-")
        cache.store("anon", "", 100, media, b"b", '"b"', encoding)  # another format, no shown
    assert (cache.serial("anon"), cache.shown("anon")) == (100, 7)
    # A newer global serial starts a new page: its shown serial is the new one.
    cache.store("anon", "", 101, "json", b"c", '"c"', shown=7)
    assert (cache.serial("anon"), cache.shown("anon")) == (101, 7)
    assert cache.shown("nobody") == 0
