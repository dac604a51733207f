"""The one error every `vestry` command raises for the person at the terminal.

`vestry.cli.main` catches it in one place and prints it as `vestry: <message>` (or
`vestry <command>: <message>`) on stderr, with no traceback, and exits with its status.
"""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """What went wrong and, where we know it, how to fix it, in one sentence.

    `command` names the command in the message's prefix when scripts or orchestrators read it
    (`vestry healthcheck HOST:PORT: …`); `status` is the exit status (1 unless a command
    documents another, as `fsck` and `gc` use 2 for "could not run").
    """

    def __init__(self, message: str, *, command: str = "", status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.command = command
        self.status = status

    def __str__(self) -> str:
        return self.message

    @property
    def prefix(self) -> str:
        return f"vestry {self.command}" if self.command else "vestry"
