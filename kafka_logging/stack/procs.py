"""Processes of the stack: start detached, recognise our own by pid, stop without leaving any."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def cmdline(pid: int) -> str:
    """The process's command line with NULs as spaces, '' when there is no such process."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def is_ours(pid: int, marker: str) -> bool:
    """Alive, not a zombie, and its command line carries `marker` (guards against pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state != "Z" and marker in cmdline(pid)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def spawn(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path) -> int:
    """Start `argv` in a new session (its own process group) with output to `log`; its pid.

    A reaper thread waits on the child so it never lingers as a zombie while we run.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc.pid


def stop_group(pgid: int, timeout: float = 30.0) -> bool:
    """SIGTERM the whole process group, wait up to `timeout`, then SIGKILL what is left.

    Returns True when it had to kill.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    if _wait_gone(pgid, timeout):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    _wait_gone(pgid, 10.0)
    return True


def _wait_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    gone = threading.Event()
    while not gone.is_set():
        if not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        gone.wait(0.2)  # polling /proc: there is no event for "another session's group emptied"
    return True


def tail(path: Path, lines: int = 25) -> str:
    """The last `lines` lines of a log file, for error messages."""
    try:
        data = path.read_bytes()[-64 * 1024 :]
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_block(size: int) -> int:
    """The first of `size` consecutive loopback ports that are all free right now.

    Chosen below the kernel's ephemeral range: a port handed out for outgoing connections
    could be taken by any client between our check and the server's bind.
    """
    import random  # noqa: PLC0415

    high = min(_ephemeral_low(), 65536) - size
    for _ in range(500):
        start = random.randrange(12000, high)  # noqa: S311 - not security
        if all(_bindable(p) for p in range(start, start + size)):
            return start
    raise RuntimeError(f"no block of {size} free loopback ports found")
