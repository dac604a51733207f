"""The servicer's built pages: kept per (project, serial), the oldest dropped past the bound."""

from __future__ import annotations

from vestry.index.v1 import index_pb2

from vestry.services.index.page_protos import BuiltPages


def page(files: int) -> index_pb2.ProjectPage:
    return index_pb2.ProjectPage(
        files=[index_pb2.FileRecord(filename=f"f{i}.whl") for i in range(files)]
    )


def test_a_page_is_held_under_its_project_and_serial_only() -> None:
    built = BuiltPages()
    first = page(2)
    built.put("p", 3, first)
    assert built.holds("p", 3) and built.get("p", 3) is first
    assert not built.holds("p", 4) and built.get("p", 4) is None
    assert not built.holds("q", 3)


def test_the_oldest_pages_go_once_more_files_than_the_bound_are_held() -> None:
    built = BuiltPages(max_files=10)
    built.put("a", 1, page(4))  # counts 5: a page is one more than its files
    built.put("b", 1, page(4))
    assert built.holds("a", 1) and built.holds("b", 1)
    built.put("c", 1, page(0))
    assert not built.holds("a", 1)
    assert built.holds("b", 1) and built.holds("c", 1)
