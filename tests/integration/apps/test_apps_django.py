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
    Server,
    Target,
    app_source,
    drive,
    free_port,
    handler_said,
    message,
    records,
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
    server = Server([*argv, *bind], tmp_path, port)
    try:
        server.wait_ready()
        traffic = drive(server.base)
        code = server.stop()
    finally:
        server.kill()
    assert code == 0, server.output()

    def done(got: list[dict[str, object]]) -> bool:
        texts = [message(r) for r in got]
        return (
            any("Shutting down: Master" in t for t in texts)
            and sum("Worker exiting" in t for t in texts) >= 2
            and sum("handled mk" in t for t in texts) >= len(traffic.ok)
        )

    ledger = Ledger(records(target, done), target.service, server.output())
    ledger.no_duplicate_event_ids()
    ledger.all_from_service()
    ledger.once_each(traffic.ok, "handled {}", "myapp")
    ledger.once_each(traffic.boom, "failing {}", "myapp")
    ledger.exceptions_once(traffic.boom)
    assert {r["log"]["logger"] for r in ledger.got if "error" in r} == {"django.request"}
    ledger.once_each(traffic.all, "m={}", "gunicorn.access")
    assert len(ledger.with_text("Worker exiting")) == 2
    ledger.lines_present("Shutting down: Master")
    ledger.summary("django", len(traffic.all))
    assert handler_said(server.output()) == []
