"""The README's script recipe in a plain script killed by SIGTERM right after logging:
every record arrives once (the SIGTERM flush), and the exit status stays SIGTERM."""

from __future__ import annotations

import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from apps_harness import Ledger, Server, Target, app_source, handler_said, message, records

pytestmark = pytest.mark.timeout(300)


def test_script_recipe_loses_nothing_at_sigterm(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """200 records (20 exceptions) logged, then SIGTERM at once (the script sends it to
    itself): all 200 and the last line arrive exactly once."""
    target = make_target("script")
    (tmp_path / "main.py").write_text(
        target.recipe("script") + "\n\n" + app_source("apps_script.py")
    )
    run = f"mk{uuid.uuid4().hex[:10]}"
    server = Server([sys.executable, "main.py"], tmp_path, 0, env={"RECORDS": "200", "RUN": run})
    try:
        code = server.proc.wait(60)
    finally:
        server.kill()
    assert code == -signal.SIGTERM, server.output()
    markers = [f"{run}n{n:04d}" for n in range(200)]
    boom = [m for n, m in enumerate(markers) if n % 10 == 9]
    ok = [m for m in markers if m not in boom]

    def done(got: list[dict[str, object]]) -> bool:
        return any("last line before SIGTERM" in message(r) for r in got)

    ledger = Ledger(records(target, done), target.service, server.output())
    ledger.no_duplicate_event_ids()
    ledger.all_from_service()
    ledger.once_each(ok, "handled {}", "myapp")
    ledger.once_each(boom, "failed {}", "myapp")
    ledger.exceptions_once(boom)
    assert len(ledger.got) == 201
    ledger.summary("script", len(markers))
    assert handler_said(server.output()) == []
