"""`stack up | down | status`: start, stop and inspect the local Kafka + Elasticsearch."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kafka_logging.stack import procs, security, services
from kafka_logging.stack.errors import StackError
from kafka_logging.stack.fetch import Progress
from kafka_logging.stack.java import Jdk, find_jdk
from kafka_logging.stack.settings import (
    KAFKA_MIN_JAVA,
    KAFKA_VERSION,
    StackSettings,
    is_kafka,
    node_number,
)


@dataclass
class Running:
    """One started service as recorded in stack.json."""

    name: str
    pid: int  # leader of its own process group
    port: int
    version: str
    marker: str
    log: str
    data: str
    java: str
    started_at: float
    extra: dict[str, str]

    def alive(self) -> bool:
        return any(procs.is_ours(p, self.marker) for p in self.pids())

    def pids(self) -> list[int]:
        return procs.group_members(self.pid)


@contextlib.contextmanager
def _locked(settings: StackSettings) -> Iterator[None]:
    """One `stack up`/`down` at a time per data directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def load_state(settings: StackSettings) -> dict[str, Running]:
    try:
        raw = json.loads(settings.state_file.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise StackError(
            f"{settings.state_file} is not valid JSON ({exc}); remove it after checking that "
            "no Kafka or Elasticsearch of the stack is running."
        ) from None
    return {name: Running(**entry) for name, entry in raw.get("services", {}).items()}


def _save_state(settings: StackSettings, state: dict[str, Running]) -> None:
    tmp = settings.state_file.with_suffix(".tmp")
    payload = {"version": 1, "services": {n: asdict(r) for n, r in state.items()}}
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, settings.state_file)


def _health(entry: Running, settings: StackSettings) -> str | None:
    """None when the service answers as healthy (a Kafka node: a metadata request to it)."""
    if is_kafka(entry.name):
        return services.kafka_health(f"127.0.0.1:{entry.port}")
    url = entry.extra.get("url", f"http://127.0.0.1:{entry.port}")
    auth, ca = _es_auth(entry, settings)
    return services.elasticsearch_health(url, auth=auth, ca=ca)


def _es_auth(entry: Running, settings: StackSettings) -> tuple[tuple[str, str] | None, str | None]:
    if "ca" not in entry.extra:
        return None, None
    secret = security.password(settings, security.ES_USER_NAME)
    return (security.ES_USER_NAME, secret), entry.extra["ca"]


def up(
    settings: StackSettings, progress: Progress, only: Sequence[str] | None = None
) -> dict[str, Running]:
    """Start whatever of `only` (default: all) is not running yet and wait until healthy."""
    with _locked(settings):
        state = load_state(settings)
        to_start = []
        for name in settings.service_names() if only is None else only:
            entry = state.get(name)
            if entry is not None and entry.alive():
                wanted = settings.distribution.title
                if not is_kafka(name) and entry.extra.get("engine", wanted) != wanted:
                    raise StackError(
                        f"{name} slot already runs {entry.extra.get('engine')}, not {wanted}; "
                        "`kafka-logging stack down` first to switch search engines."
                    )
                if ("ca" in entry.extra) != settings.secure:
                    mode = "secure" if "ca" in entry.extra else "plain"
                    raise StackError(
                        f"{name} is already running in {mode} mode; `kafka-logging stack down` "
                        "first to switch between --secure and plain."
                    )
                progress(f"{name} is already running (pid {entry.pid}, port {entry.port}).")
                continue
            if entry is not None:
                progress(f"{name}: removing stale pid record (pid {entry.pid} is not running).")
                del state[name]
                _save_state(settings, state)
            port = settings.port_of(name)
            if procs.port_open("127.0.0.1", port):
                raise StackError(
                    f"port {port} for {name} is already in use by a process the stack did not "
                    f"start. Stop it, or choose another port (see `kafka-logging stack up --help`)."
                )
            to_start.append(name)
        if to_start:
            _start(settings, to_start, state, progress)
        return state


def _start(
    settings: StackSettings, names: list[str], state: dict[str, Running], progress: Progress
) -> None:
    def jdk(name: str) -> Jdk:
        if is_kafka(name):
            return find_jdk(KAFKA_MIN_JAVA, f"Kafka {KAFKA_VERSION}")
        dist = settings.distribution
        return find_jdk(dist.min_java, dist.title)

    chosen = {name: jdk(name) for name in names}  # fail on a missing JDK before downloading
    launches = [
        services.prepare_kafka(settings, chosen[name], progress, node_number(name))
        if is_kafka(name)
        else services.prepare_elasticsearch(settings, chosen[name], progress)
        for name in names
    ]
    for launch in launches:
        progress(
            f"Starting {launch.name} {launch.version} on port {launch.port} (log {launch.log})"
        )
        pid = procs.spawn(launch.argv, env=launch.env, cwd=launch.cwd, log=launch.log)
        state[launch.name] = Running(
            name=launch.name,
            pid=pid,
            port=launch.port,
            version=launch.version,
            marker=launch.marker,
            log=str(launch.log),
            data=str(launch.data),
            java=launch.java,
            started_at=time.time(),
            extra=launch.extra,
        )
        _save_state(settings, state)

    def timeout(name: str) -> float:
        return settings.kafka_start_timeout if is_kafka(name) else settings.es_start_timeout

    with ThreadPoolExecutor(len(launches)) as pool:
        results = list(
            pool.map(
                lambda launch: _await_healthy(
                    state[launch.name], settings, timeout(launch.name), progress
                ),
                launches,
            )
        )
    failures = [r for r in results if r is not None]
    if failures:
        raise StackError("\n\n".join(failures))
    if not settings.secure and any(is_kafka(n) for n in names):
        started = time.monotonic()
        problem = services.kafka_ready(settings.kafka_bootstrap, settings.kafka_start_timeout)
        if problem is not None:
            raise StackError(f"Kafka answers but does not accept writes: {problem}")
        progress(f"Kafka accepts idempotent writes after {time.monotonic() - started:.1f}s more.")
    if settings.secure and any(is_kafka(n) for n in names):
        secret = security.password(settings, security.KAFKA_USER)
        security.create_scram_user(settings.kafka_bootstrap, security.KAFKA_USER, secret)
        progress(f"SCRAM-SHA-512 user {security.KAFKA_USER} is ready on the SASL_SSL listeners.")


def _await_healthy(
    entry: Running, settings: StackSettings, timeout: float, progress: Progress
) -> str | None:
    """None once healthy; else an error message (the service has then been stopped)."""
    started = time.monotonic()
    stop = threading.Event()
    reason: str | None = "not checked yet"
    announced = started
    while time.monotonic() - started < timeout:
        if not entry.alive():
            return (
                f"{entry.name} exited during start-up. Last lines of {entry.log}:\n"
                + procs.tail(Path(entry.log))
            )
        reason = _health(entry, settings)
        if reason is None:
            progress(f"{entry.name} is healthy after {time.monotonic() - started:.1f}s.")
            return None
        if time.monotonic() - announced >= 10:
            progress(f"  still waiting for {entry.name} ({time.monotonic() - started:.0f}s)...")
            announced = time.monotonic()
        stop.wait(0.5)
    procs.stop_group(entry.pid)
    return (
        f"{entry.name} did not become healthy within {timeout:.0f}s ({reason}); it was stopped. "
        f"Last lines of {entry.log}:\n" + procs.tail(Path(entry.log))
    )


def down(settings: StackSettings, progress: Progress, only: Sequence[str] | None = None) -> None:
    """Stop the services (SIGTERM, wait, then SIGKILL); leave no process behind.

    All Kafka nodes of a cluster get SIGTERM together: stopped one by one, the last ones lose
    their controller quorum and hang in controlled shutdown until killed.
    """
    with _locked(settings):
        state = load_state(settings)
        if not state:
            progress(f"The stack is not running (no state in {settings.data_dir}).")
        chosen = [n for n in reversed(list(state)) if only is None or n in only]
        waves = [[n for n in chosen if not is_kafka(n)], [n for n in chosen if is_kafka(n)]]
        for wave in (w for w in waves if w):
            with ThreadPoolExecutor(len(wave)) as pool:
                list(pool.map(lambda name: _stop(state[name], progress), wave))
            for name in wave:
                del state[name]
            _save_state(settings, state)
        if not state:
            settings.state_file.unlink(missing_ok=True)


def _stop(entry: Running, progress: Progress) -> None:
    if not entry.alive():
        progress(f"{entry.name} was not running.")
        return
    progress(f"Stopping {entry.name} (pid {entry.pid})...")
    killed = procs.stop_group(entry.pid)
    progress(f"  {entry.name} {'killed after the grace period' if killed else 'stopped'}.")


def status(settings: StackSettings) -> dict[str, Any]:
    """What runs, where, and whether it is healthy."""
    state = load_state(settings)
    report: dict[str, Any] = {"data_dir": str(settings.data_dir), "services": {}}
    names = list(state) or settings.service_names()
    for name in names:
        entry = state.get(name)
        if entry is None:
            report["services"][name] = {"running": False}
            continue
        alive = entry.alive()
        item: dict[str, Any] = {
            "running": alive,
            "version": entry.version,
            "pids": entry.pids() if alive else [],
            "port": entry.port,
            "data": entry.data,
            "log": entry.log,
            "java": entry.java,
            **entry.extra,
        }
        if alive:
            problem = _health(entry, settings)
            item["health"] = "healthy" if problem is None else f"unhealthy: {problem}"
            if name == "elasticsearch" and problem is None:
                auth, ca = _es_auth(entry, settings)
                health = services.es_get(entry.extra["url"], "/_cluster/health", auth=auth, ca=ca)
                item["cluster"] = health.get("status")
        else:
            item["health"] = "not running (stale record)"
        report["services"][name] = item
    return report
