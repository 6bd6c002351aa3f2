"""The README's script recipe at the top of a Flask app, under Flask's own server: every
request's lines, the access lines (werkzeug) and Flask's exception records arrive once,
also those logged just before SIGTERM, and the process still dies by SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from apps_harness import (
    BIN,
    Ledger,
    Target,
    app_source,
    free_port,
    handler_said,
    message,
    records,
    serve,
)

pytestmark = pytest.mark.timeout(300)


def test_flask_recipe_ships_every_record_once(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """`flask --app myapp run`: app lines, `Exception on /boom` with the full trace, one
    werkzeug access line per request."""
    target = make_target("flask")
    (tmp_path / "myapp.py").write_text(
        target.recipe("script") + "\n\n" + app_source("apps_flask.py")
    )
    port = free_port()
    argv = [str(BIN / "flask"), "--app", "myapp", "run", "--host", "127.0.0.1", "--port", str(port)]
    server, code, traffic = serve(argv, tmp_path, port)
    assert code == -signal.SIGTERM, server.output()

    def done(got: list[dict[str, object]]) -> bool:
        texts = [message(r) for r in got]
        return sum("m=mk" in t for t in texts) >= len(traffic.all)

    ledger = Ledger(records(target, done), target.service, server.output())
    ledger.requests_once(traffic, "werkzeug")
    ledger.summary("flask", len(traffic.all))
    assert handler_said(server.output()) == []
