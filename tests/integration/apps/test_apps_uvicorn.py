"""The README's uvicorn recipes, run as written with a FastAPI app: `uvicorn.run(app,
log_config=...)` and `uvicorn --log-config logging.yaml --workers 2`. Every record arrives
once, and the lines of uvicorn's graceful stop arrive although uvicorn re-raises SIGTERM."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from apps_harness import (
    BIN,
    README,
    Ledger,
    Target,
    app_source,
    free_port,
    handler_said,
    message,
    pid,
    records,
    serve,
)

pytestmark = pytest.mark.timeout(300)

SHUTDOWN_LINES = (
    "Shutting down",
    "Waiting for application shutdown.",
    "Application shutdown complete.",
    "Finished server process",
    "lifespan stopping",
)
STARTED = re.compile(r"Started server process \[(\d+)\]")


def shutdown_done(processes: int) -> Callable[[list[dict[str, object]]], bool]:
    def done(got: list[dict[str, object]]) -> bool:
        texts = [message(r) for r in got]
        return all(sum(line in t for t in texts) >= processes for line in SHUTDOWN_LINES)

    return done


def test_uvicorn_run_recipe_ships_every_record_once(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """main.py from the README under SIGTERM: requests, exceptions (logged on uvicorn.error),
    access lines once; lifespan shutdown and uvicorn's final lines present; the process still
    dies by SIGTERM."""
    target = make_target("uvicorn-run")
    (tmp_path / "main.py").write_text(target.recipe("uvicorn"))
    (tmp_path / "myapp.py").write_text(app_source("apps_fastapi.py"))
    port = free_port()
    server, code, traffic = serve([sys.executable, "main.py"], tmp_path, port)
    assert code == -signal.SIGTERM, server.output()

    ledger = Ledger(records(target, shutdown_done(1)), target.service, server.output())
    ledger.requests_once(traffic, "uvicorn.access")
    for line in SHUTDOWN_LINES:
        assert len(ledger.with_text(line)) == 1, line
    ledger.summary("uvicorn-run", len(traffic.all))
    assert handler_said(server.output()) == []


def test_uvicorn_yaml_recipe_with_two_workers(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """`uvicorn myapp:app --log-config logging.yaml --workers 2` from the README: every
    record once, and each worker process's startup and graceful-stop lines."""
    command = "uvicorn myapp:app --log-config logging.yaml --workers 2"
    assert command in README.read_text()
    target = make_target("uvicorn-yaml")
    (tmp_path / "logging.yaml").write_text(target.recipe("uvicorn-yaml"))
    (tmp_path / "myapp.py").write_text(app_source("apps_fastapi.py"))
    port = free_port()
    argv = [str(BIN / "uvicorn"), *command.split()[1:], "--host", "127.0.0.1", "--port", str(port)]
    server, code, traffic = serve(argv, tmp_path, port)
    assert code == 0, server.output()

    ledger = Ledger(records(target, shutdown_done(2)), target.service, server.output())
    ledger.requests_once(traffic, "uvicorn.access")
    workers = {int(m.group(1)) for r in ledger.got if (m := STARTED.search(message(r)))}
    assert len(workers) == 2, workers
    for line in SHUTDOWN_LINES:
        assert sorted(pid(r) for r in ledger.with_text(line)) == sorted(workers), line
    ledger.summary("uvicorn-yaml-2-workers", len(traffic.all))
    assert handler_said(server.output()) == []
