"""A child of `vestry up` stops when its supervisor does.

The child asks the kernel itself (PR_SET_PDEATHSIG, Linux) instead of the supervisor doing it
between fork and exec: a `preexec_fn` makes CPython fork the whole supervisor, whose gRPC
health-check threads then get their fork handlers run in the child, and gRPC's poller, revived
there, aborts the child (SIGABRT) when the child closes its inherited descriptors before exec.
Without `preexec_fn` the child is started by vfork/posix_spawn and no handler runs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

SUPERVISOR_PID = "VESTRY_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1


def follow_supervisor() -> None:
    """Under `vestry up` (SUPERVISOR_PID set): get SIGTERM when the supervisor dies, and exit at
    once if it already has (this process was re-parented before it could ask)."""
    supervisor = os.environ.get(SUPERVISOR_PID)
    if not supervisor or not sys.platform.startswith("linux"):
        return  # not supervised, or not Linux: the supervisor's own signal handling stops us
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return
    if os.getppid() != int(supervisor):
        raise SystemExit(f"vestry: the supervisor (PID {supervisor}) is gone; not starting")
