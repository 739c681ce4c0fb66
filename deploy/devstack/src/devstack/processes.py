"""Child processes that never outlive the devstack process that started them."""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def _stop_when_parent_dies(sig: signal.Signals) -> None:
    # Linux delivers `sig` to the child when its parent dies, even by SIGKILL; elsewhere a no-op.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig))


def spawn(
    argv: Sequence[str | Path],
    *,
    stop_signal: signal.Signals = signal.SIGTERM,
    env: Mapping[str, str] | None = None,
    stdout: IO[bytes] | int | None = None,
    user: int | None = None,
    group: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session, so Ctrl-C reaches only us and we stop children in order."""
    return subprocess.Popen(
        [str(arg) for arg in argv],
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        user=user,
        group=group,
        extra_groups=[] if user is not None else None,
        # Runs after the uid switch, which would otherwise clear the parent-death signal.
        preexec_fn=lambda: _stop_when_parent_dies(stop_signal),
    )


def stop(
    process: subprocess.Popen[bytes],
    sig: signal.Signals,
    timeout: float,
    *,
    whole_group: bool = False,
) -> None:
    """Send `sig` (to the child's whole process group if asked), then SIGKILL after `timeout`."""
    if process.poll() is not None:
        return
    send = os.killpg if whole_group else os.kill
    with contextlib.suppress(ProcessLookupError):
        send(process.pid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            send(process.pid, signal.SIGKILL)
        process.wait()
