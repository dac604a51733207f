"""Test data, built in one place: distributions (`dists`), the index's records (`index`) and
the pages the gateway renders (`pages`). The distribution builders are re-exported here."""

from tests.factories.dists import (
    blob,
    make_sdist,
    make_wheel,
    metadata_text,
    tar_bytes,
    zip_bytes,
)

__all__ = ["blob", "make_sdist", "make_wheel", "metadata_text", "tar_bytes", "zip_bytes"]
