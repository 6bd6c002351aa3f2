"""The README's gunicorn recipe, run as written under real gunicorn with each worker type:
every record arrives once, gunicorn's own lines and access lines included, and every
worker's exit lines arrive after SIGTERM."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from apps_harness import (
    BIN,
    README,
    Ledger,
    Server,
    Target,
    Traffic,
    app_source,
    free_port,
    gunicorn_done,
    handler_said,
    message,
    pid,
    records,
    serve,
)

pytestmark = pytest.mark.timeout(300)

COMMAND = "gunicorn -c gunicorn.conf.py myapp:app"
# Where the paths differ: the master loads the app (--preload) or each worker does; a
# thread pool; gevent's monkey-patched worker.
VARIANTS = {
    "sync": ["-w", "2"],
    "sync-preload": ["-w", "2", "--preload"],
    "gthread": ["-w", "2", "-k", "gthread", "--threads", "4"],
    "gevent": ["-w", "1", "-k", "gevent"],
}
BOOTED = re.compile(r"Booting worker with pid: (\d+)")


def run_gunicorn(app_dir: Path, argv: list[str]) -> tuple[Server, int, Traffic]:
    """gunicorn with `argv` (+ a loopback bind), driven, then stopped with SIGTERM."""
    port = free_port()
    bind = ["--bind", f"127.0.0.1:{port}", "--timeout", "120"]  # no worker restarts under load
    return serve([str(BIN / argv[0]), *argv[1:], *bind], app_dir, port)


def booted(got: list[dict[str, object]]) -> set[int]:
    return {int(m.group(1)) for r in got if (m := BOOTED.search(message(r)))}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gunicorn_recipe_ships_every_record_once(
    make_target: Callable[[str], Target], tmp_path: Path, variant: str
) -> None:
    """gunicorn.conf.py from the README: app lines, exceptions with their trace, one access
    line per request, master and worker shutdown lines, each exactly once, from every worker."""
    assert COMMAND in README.read_text()
    target = make_target(f"gunicorn-{variant}")
    (tmp_path / "gunicorn.conf.py").write_text(target.recipe("gunicorn"))
    (tmp_path / "myapp.py").write_text(app_source("apps_wsgi.py"))
    workers = int(VARIANTS[variant][1])

    server, code, traffic = run_gunicorn(tmp_path, [*COMMAND.split(), *VARIANTS[variant]])
    assert code == 0, server.output()

    ledger = Ledger(
        records(target, gunicorn_done(traffic, workers)), target.service, server.output()
    )
    ledger.requests_once(traffic, "gunicorn.access")
    ledger.lines_present("Starting gunicorn", "Handling signal: term", "Shutting down: Master")
    pids = booted(ledger.got)
    assert len(pids) == workers, ledger.got
    for worker in pids:
        exiting = ledger.with_text(f"Worker exiting (pid: {worker})")
        assert [pid(r) for r in exiting] == [worker]
    app_pids = {pid(r) for r in ledger.got if r["log"]["logger"] == "myapp"}  # type: ignore[index]
    assert app_pids <= pids
    ledger.summary(f"gunicorn-{variant}", len(traffic.all))
    assert handler_said(server.output()) == []
