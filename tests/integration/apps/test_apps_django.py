"""The README's Django recipe (settings.LOGGING) under gunicorn with the gunicorn recipe too:
the dict applied twice (gunicorn's master, then Django in each worker) ships every record
once, Django's 500s with their traceback included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from apps_harness import (
    BIN,
    Ledger,
    Target,
    app_source,
    free_port,
    gunicorn_done,
    handler_said,
    pid,
    records,
    serve,
)

pytestmark = pytest.mark.timeout(300)


def test_django_recipe_under_gunicorn_ships_every_record_once(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """Views' lines, `Internal Server Error` records with error.type and the full trace,
    gunicorn access lines, and the workers' exit lines, each exactly once."""
    target = make_target("django")
    (tmp_path / "gunicorn.conf.py").write_text(target.recipe("gunicorn"))
    settings = app_source("apps_django_settings.py") + target.recipe("django")
    (tmp_path / "settings.py").write_text(settings)
    (tmp_path / "djurls.py").write_text(app_source("apps_django_urls.py"))
    (tmp_path / "djwsgi.py").write_text(app_source("apps_django_wsgi.py"))
    port = free_port()
    argv = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "djwsgi:application", "-w", "2"]
    bind = ["--bind", f"127.0.0.1:{port}", "--timeout", "120"]  # no worker restarts under load
    server, code, traffic = serve([*argv, *bind], tmp_path, port)
    assert code == 0, server.output()

    ledger = Ledger(records(target, gunicorn_done(traffic, 2)), target.service, server.output())
    ledger.requests_once(traffic, "gunicorn.access")
    assert {r["log"]["logger"] for r in ledger.got if "error" in r} == {"django.request"}
    exiting = sorted(pid(r) for r in ledger.with_text("Worker exiting"))
    processes = sorted({pid(r) for r in ledger.got})
    ledger.lines_present("Shutting down: Master")
    ledger.summary("django", len(traffic.all))
    assert handler_said(server.output()) == []
    workers = {pid(r) for r in ledger.with_text("Booting worker")}
    if len(exiting) < 2 and len(workers) < 2 and len(processes) == 2:
        # KNOWN OPEN BUG (issue 11, session 5 note): now and then one worker -- always one
        # that served no request -- delivers none of its records, not even "Booting worker".
        # Outside gunicorn, a child forked right after the parent's handler started can die
        # by SIGSEGV during garbage collection (repro in the session 5 note). Reported here
        # as an expected failure, with the evidence, until it is fixed.
        pytest.xfail(ledger._fail(f"a worker shipped nothing: records only from {processes}"))
    assert len(exiting) == 2, ledger._fail(f"exit lines from {exiting}; records from {processes}")
