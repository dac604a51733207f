"""Stopping the processes tests start: by their PID, gracefully first."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

__all__ = ["stop_gracefully"]


def stop_gracefully(proc: subprocess.Popen[Any], timeout: float = 30) -> int:
    """SIGTERM, then SIGKILL if it is still running after `timeout` seconds; its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
