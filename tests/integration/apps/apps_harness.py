"""Run the README's recipes with real servers and account for every record they ship.

- `recipe(name)` reads the fenced block after `<!-- recipe: NAME -->` in README.md, and
  `materialize()` replaces only the documented placeholders (`kafka-1:9092`,
  `application-logs`, `checkout`) with the test's broker, topic and service name.
- `Server` runs a command in an app directory as a subprocess on loopback, waits for it to
  answer HTTP, and stops it with a signal.
- `drive()` sends GET /ok and /boom requests, each with its own marker; `Ledger` reads the
  topic back and checks every marker's records: app line once, access line once,
  exceptions with error.type and the full trace, no event.id twice.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka_support import create_topic, read_topic

from kafka_logging.wire import record as wire

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
APPS = Path(__file__).resolve().parent / "apps_src"
BIN = Path(sys.executable).parent
PLACEHOLDERS = ("kafka-1:9092", "application-logs", "checkout")
MARKER = re.compile(r"mk[0-9a-f]{10}n\d{4}")
_MARK = re.compile(r"<!-- recipe: ([a-z0-9-]+) -->\n```[a-z]*\n(.*?)\n```", re.S)


def recipe(name: str) -> str:
    """The README's block for recipe `name`, exactly as written."""
    blocks = dict(_MARK.findall(README.read_text()))
    assert name in blocks, f"README.md has no `<!-- recipe: {name} -->` block"
    return blocks[name] + "\n"


def materialize(text: str, bootstrap: str, topic: str, service: str) -> str:
    """Replace the documented placeholders, and nothing else."""
    for placeholder in PLACEHOLDERS:
        assert placeholder in text, f"recipe lost its placeholder {placeholder!r}"
    return (
        text.replace("kafka-1:9092", bootstrap)
        .replace("application-logs", topic)
        .replace("checkout", service)
    )


@dataclass
class Target:
    """Where one test's app ships: a fresh single-partition topic and a unique service."""

    bootstrap: str
    topic: str
    service: str

    @classmethod
    def new(cls, bootstrap: str, label: str) -> Target:
        suffix = uuid.uuid4().hex[:8]
        topic = f"test-apps-{label}-{suffix}"
        create_topic(bootstrap, topic)
        return cls(bootstrap, topic, f"apps-{label}-{suffix}")

    def recipe(self, name: str) -> str:
        return materialize(recipe(name), self.bootstrap, self.topic, self.service)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_source(name: str) -> str:
    return (APPS / name).read_text()


class Server:
    """A server subprocess in `cwd`, output kept in files there for the failure message."""

    def __init__(self, argv: list[str], cwd: Path, port: int, env: Mapping[str, str] = {}):
        self.cwd = cwd
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        full_env = {
            **os.environ,
            "PYTHONPATH": str(cwd),
            "PORT": str(port),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.out = (cwd / "server.out").open("wb")
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=self.out, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        if not self.out.closed:
            self.out.flush()
        return (self.cwd / "server.out").read_text(errors="replace")

    def wait_ready(self, path: str = "/ok?m=ready", timeout: float = 90.0) -> None:
        pause = threading.Event()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=5):
                    return
            except (OSError, urllib.error.URLError):
                pause.wait(0.2)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.output()}")

    def wait_output(self, text: str, timeout: float = 90.0) -> None:
        """Wait until the process printed `text` (for servers that speak no HTTP)."""
        pause = threading.Event()
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} after {timeout}s:\n{self.output()}")
            pause.wait(0.2)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 90.0) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                f"server ignored {sig.name} for {timeout}s:\n{self.output()}"
            ) from None
        finally:
            self.out.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if not self.out.closed:
            self.out.close()


@dataclass
class Traffic:
    ok: list[str] = field(default_factory=list)
    boom: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return self.ok + self.boom


def drive(base: str, requests: int = 200, boom_every: int = 10) -> Traffic:
    """`requests` GETs, every `boom_every`-th one to /boom (the app raises), each marked."""
    run = uuid.uuid4().hex[:10]
    traffic = Traffic()
    for n in range(requests):
        marker = f"mk{run}n{n:04d}"
        boom = n % boom_every == boom_every - 1
        (traffic.boom if boom else traffic.ok).append(marker)
        url = f"{base}/{'boom' if boom else 'ok'}?m={marker}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == (500 if boom else 200), f"{url}: HTTP {status}"
    return traffic


def serve(argv: list[str], cwd: Path, port: int) -> tuple[Server, int, Traffic]:
    """Start a web server, wait until it answers, drive the standard traffic, stop it with
    SIGTERM. Returns the server (for its output), its exit status and the traffic sent."""
    server = Server(argv, cwd, port)
    try:
        server.wait_ready()
        traffic = drive(server.base)
        code = server.stop()
    finally:
        server.kill()
    return server, code, traffic


def gunicorn_done(traffic: Traffic, workers: int) -> Callable[[list[dict[str, Any]]], bool]:
    """Read on until the master's and every worker's exit lines and every request arrived."""

    def done(got: list[dict[str, Any]]) -> bool:
        texts = [message(r) for r in got]
        return (
            any("Shutting down: Master" in t for t in texts)
            and sum("Worker exiting" in t for t in texts) >= workers
            and sum("handled mk" in t for t in texts) >= len(traffic.ok)
        )

    return done


def records(target: Target, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 90):
    """Every record of the target's topic, read until `done` holds plus 2 s of quiet."""
    return read_topic(
        target.bootstrap,
        target.topic,
        done,
        timeout=timeout,
        quiet=2.0,
        convert=lambda m: wire.decode(m.value(), m.headers()),
    )


def handler_said(output: str) -> list[str]:
    """Lines the handler wrote on stderr (setup problems, drops): none expected."""
    return re.findall(r"^kafka-logging: .*$", output, re.M)


def message(rec: Mapping[str, Any]) -> str:
    return str(rec.get("message", ""))


def pid(rec: Mapping[str, Any]) -> int:
    return int(rec["process"]["pid"])


class Ledger:
    """Checks on what arrived; each method asserts one property with the evidence."""

    def __init__(self, got: list[dict[str, Any]], service: str, output: str = "") -> None:
        self.got = got
        self.service = service
        self.output = output

    def _fail(self, text: str) -> str:
        arrived = Counter((r["log"]["logger"], pid(r)) for r in self.got)
        return (
            f"{text}\n--- arrived: {len(self.got)} records; by (logger, pid): "
            f"{dict(arrived.most_common(12))}\n--- server output (tail) ---\n{self.output[-4000:]}"
        )

    def summary(self, label: str, expected_markers: int) -> str:
        """One line for the report (shown with `pytest -s`)."""
        ids = {wire.event_id(r) for r in self.got}
        errors = sum(isinstance(r.get("error"), dict) for r in self.got)
        pids = {pid(r) for r in self.got}
        line = (
            f"[{label}] markers={expected_markers} records={len(self.got)} "
            f"distinct_event_ids={len(ids)} with_error={errors} processes={len(pids)}"
        )
        print(line)
        return line

    def no_duplicate_event_ids(self) -> None:
        ids = Counter(wire.event_id(r) for r in self.got)
        twice = {i: n for i, n in ids.items() if n > 1}
        assert not twice, self._fail(f"event.ids seen more than once: {twice}")

    def all_from_service(self) -> None:
        services = Counter(r["service"]["name"] for r in self.got)
        assert set(services) == {self.service}, services

    def with_text(self, text: str, logger: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.got
            if text in message(r) and (logger is None or r["log"]["logger"] == logger)
        ]

    def once_each(self, markers: Iterable[str], template: str, logger: str | None = None) -> None:
        """Exactly one record whose message contains template.format(marker), per marker."""
        wanted = set(markers)
        counts: Counter[str] = Counter()
        for r in self.got:
            if logger is not None and r["log"]["logger"] != logger:
                continue
            text = message(r)
            for marker in MARKER.findall(text):
                if marker in wanted and template.format(marker) in text:
                    counts[marker] += 1
        missing = sorted(wanted - set(counts))
        twice = {m: n for m, n in counts.items() if n > 1}
        problem = f"{len(missing)} of {len(wanted)} missing" if missing else ""
        problem += f" repeated: {dict(list(twice.items())[:3])}" if twice else ""
        assert not problem, self._fail(f"{template!r} on {logger}: {problem} {missing[:3]}")

    def exceptions_once(self, markers: Iterable[str], frame: str = "boom_view") -> None:
        """One record per marker carrying error.type ValueError and the full stack trace
        (the app's frame and the exception line) with the marker in error.message."""
        found: Counter[str] = Counter()
        markers = list(markers)
        for r in self.got:
            error = r.get("error")
            if not isinstance(error, dict):
                continue
            for m in markers:
                if f"boom {m}" in str(error.get("message", "")):
                    found[m] += 1
                    assert error.get("type") == "ValueError", error
                    trace = str(error.get("stack_trace", ""))
                    assert trace.startswith("Traceback (most recent call last):"), trace
                    assert frame in trace, trace
                    assert f"ValueError: boom {m}" in trace, trace
        missing = [m for m in markers if found[m] == 0]
        twice = [m for m in markers if found[m] > 1]
        assert not missing, self._fail(f"exceptions: {len(missing)} missing {missing[:3]}")
        assert not twice, self._fail(f"exceptions repeated: {twice[:3]}")

    def requests_once(self, traffic: Traffic, access_logger: str) -> None:
        """The standard web traffic's records: no event.id twice, all from the service, the
        app's line per request and its exception records once each, one access line per
        request on `access_logger`."""
        self.no_duplicate_event_ids()
        self.all_from_service()
        self.once_each(traffic.ok, "handled {}", "myapp")
        self.once_each(traffic.boom, "failing {}", "myapp")
        self.exceptions_once(traffic.boom)
        self.once_each(traffic.all, "m={}", access_logger)

    def lines_present(self, *texts: str, logger: str | None = None) -> None:
        for text in texts:
            assert self.with_text(text, logger), self._fail(f"no record with {text!r}")
