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


def _lower_priority(nice: int) -> None:
    # A batch process never preempts the one running when it wakes (it waits for the next
    # slice), and its nice value gives it a smaller share while both want the CPU; neither
    # needs a privilege. Linux with autogrouping (most distributions' default) schedules each
    # session as one group, the groups on equal terms whatever their processes' nice values:
    # the new session's own group is made nicer too.
    if hasattr(os, "sched_setscheduler"):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    os.nice(nice)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(nice))


def spawn(
    argv: Sequence[str | Path],
    *,
    stop_signal: signal.Signals = signal.SIGTERM,
    env: Mapping[str, str] | None = None,
    stdout: IO[bytes] | int | None = None,
    user: int | None = None,
    group: int | None = None,
    nice: int = 0,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session, so Ctrl-C reaches only us and we stop children in order;
    `nice` > 0 lowers its scheduling priority by that much (see `_lower_priority`)."""

    def prepare() -> None:
        _stop_when_parent_dies(stop_signal)
        if nice:
            _lower_priority(nice)

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
        preexec_fn=prepare,
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
