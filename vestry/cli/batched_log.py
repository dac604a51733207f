"""A log handler that writes busy loggers' lines in batches, like nginx's `access_log ... buffer=`.

The gateway logs a line per request on `vestry.access`. Written as `logging.StreamHandler` writes
it (one `write()` system call and a flush per line), that line cost more of the gateway's time
than the whole route that answered it. This handler formats every record as StreamHandler does,
in the same order, to the same stream; it only holds the lines of the loggers it is given
(below WARNING) and writes them together:

- within `max_delay` seconds of the first line held (a daemon thread wakes for it);
- as soon as holding one more line would pass `PIPE_BUF` bytes, so that every write is at most
  one atomic pipe write: the processes of `vestry up` share one stderr, and a line of theirs can
  fall between two batches but never inside a line;
- before any other record (an error, a service's own line), so lines keep their order;
- at `flush()` and `close()`, which `logging.shutdown` calls at a normal exit;
- when SIGTERM ends the process (`flush_before_termination`): uvicorn, once its graceful shutdown
  is done, restores the handler it found and raises the signal again, so the process dies of it
  without running `atexit`, and what was held would be lost.

A process killed outright (SIGKILL) loses at most the last `max_delay` seconds of those lines.
"""

from __future__ import annotations

import logging
import select
import signal
import threading
from collections.abc import Iterable
from typing import TextIO

__all__ = ["BatchedStreamHandler", "flush_before_termination"]

# What the kernel writes to a pipe in one piece (POSIX: at least 512; Linux: 4096).
_ATOMIC_BYTES = getattr(select, "PIPE_BUF", 512)


class BatchedStreamHandler(logging.StreamHandler[TextIO]):
    """StreamHandler, with the lines of the loggers named in `batched` written in batches."""

    def __init__(self, stream: TextIO, batched: Iterable[str], max_delay: float = 0.5) -> None:
        super().__init__(stream)
        self.batched = frozenset(batched)
        self.max_delay = max_delay
        self._lines: list[str] = []
        self._size = 0  # bytes held, as UTF-8
        self._held = threading.Event()  # set when the first line of a batch is held
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.name not in self.batched or record.levelno >= logging.WARNING:
            self._write_held()  # what came before goes first
            super().emit(record)  # StreamHandler's: write the line, flush
            return
        try:
            line = self.format(record) + self.terminator
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
            return
        size = len(line.encode()) if not line.isascii() else len(line)
        if self._size + size > _ATOMIC_BYTES:
            self.flush()
        self._lines.append(line)
        self._size += size
        if len(self._lines) == 1:
            self._arm()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_held()
            super().flush()
        finally:
            self.release()

    def _write_held(self) -> None:
        # Called with the handler's lock held, as emit() and flush() are.
        if not self._lines:
            return
        batch = "".join(self._lines)
        self._lines.clear()
        self._size = 0
        try:
            self.stream.write(batch)
        except Exception:
            # As StreamHandler does with a line it cannot write: reported, not raised.
            self.handleError(logging.makeLogRecord({"msg": batch.rstrip("\n")}))

    def close(self) -> None:
        self._stopping.set()
        self._held.set()  # wakes the flusher, which then ends
        self.flush()
        super().close()

    def _arm(self) -> None:
        if self._flusher is None:  # started at the first held line: most processes never hold one
            self._flusher = threading.Thread(
                target=self._flush_when_due, name="log-batch-flusher", daemon=True
            )
            self._flusher.start()
        self._held.set()

    def _flush_when_due(self) -> None:
        while not self._stopping.is_set():
            self._held.wait()
            if self._stopping.wait(self.max_delay):
                return  # close() flushes
            self._held.clear()  # before the flush: a line held after it sets it again
            self.flush()


def flush_before_termination(handler: logging.Handler) -> None:
    """Have SIGTERM flush `handler`, then end the process as it would have (killed by the
    signal), unless something else already handles SIGTERM."""

    def flush_then_die(signum: int, _frame: object) -> None:
        handler.flush()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, flush_then_die)
