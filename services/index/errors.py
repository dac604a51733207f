"""The index's own domain errors: the refusals whose words clients and people depend on.

Each is a subclass of the shared hierarchy (vestry.common.errors), so it maps to its gRPC status,
and from there to HTTP, with no code of its own. The messages are written once, here.
"""

from __future__ import annotations

from vestry.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument

__all__ = ["FileExists", "FilenameUsedBefore", "LastOwner", "NameNotAvailable", "NoUploads"]


class FileExists(AlreadyExists):
    """Another file has this name, or this file's content is already in the index."""

    def __init__(self, filename: str, blake2b_256: str) -> None:
        # twine and uv recognise a duplicate by "already exist" in this text: PyPI's wording.
        super().__init__(
            f"File already exists ({filename!r}, with blake2_256 hash {blake2b_256!r})."
        )


class FilenameUsedBefore(InvalidArgument):
    """The filename belonged to a file that was deleted: a filename is never reused."""

    def __init__(self) -> None:
        super().__init__("This filename has already been used, use a different version.")


class NameNotAvailable(InvalidArgument):
    """A new project's name is taken by, or too similar to, a project the caller cannot see:
    the same words whichever it is, naming nothing the caller may not read."""

    def __init__(self, normalized: str) -> None:
        super().__init__(
            f"the name {normalized!r} is not available: it is taken or too similar to an "
            "existing project; choose a different name"
        )


class NoUploads(FailedPrecondition):
    """The project is archived or quarantined (PEP 792)."""

    def __init__(self, normalized: str, status: str) -> None:
        super().__init__(f"project {normalized!r} is {status} and accepts no uploads")


class LastOwner(FailedPrecondition):
    """The change would leave a project or an organisation without an owner."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} must keep at least one owner: add another owner first")
