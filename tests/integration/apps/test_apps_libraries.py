"""The README's structlog, loguru and fileConfig recipes, run as written in a script that
logs 200 records (20 with an exception) and exits normally: every record arrives once,
with the user's message, its fields, the level, and error.* with the full trace."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apps_harness import Ledger, Server, Target, app_source, handler_said, message, records

pytestmark = pytest.mark.timeout(300)


def _run(target: Target, app_dir: Path) -> tuple[Ledger, list[str], list[str], str]:
    run = f"mk{uuid.uuid4().hex[:10]}"
    server = Server([sys.executable, "main.py"], app_dir, 0, env={"RECORDS": "200", "RUN": run})
    try:
        code = server.proc.wait(120)
    finally:
        server.kill()
    assert code == 0, server.output()
    markers = [f"{run}n{n:04d}" for n in range(200)]
    boom = [m for n, m in enumerate(markers) if n % 10 == 9]

    def done(got: list[dict[str, Any]]) -> bool:
        return any("last line before exit" in message(r) for r in got)

    ledger = Ledger(records(target, done), target.service, server.output())
    ledger.no_duplicate_event_ids()
    ledger.all_from_service()
    ledger.once_each([m for m in markers if m not in boom], "handled {}")
    ledger.once_each(boom, "failed {}")
    ledger.exceptions_once(boom)
    assert len(ledger.got) == 201
    assert handler_said(server.output()) == []
    return ledger, markers, boom, server.output()


def test_structlog_recipe_ships_every_record_once(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """structlog-native records: message is the event, key/values are fields, the level is
    structlog's, and nothing of structlog's own keys is repeated beside the ECS fields."""
    target = make_target("structlog")
    (tmp_path / "main.py").write_text(
        target.recipe("structlog") + "\n\n" + app_source("apps_structlog.py")
    )
    ledger, markers, _, _ = _run(target, tmp_path)
    first = ledger.with_text(f"handled {markers[0]}")[0]
    assert first["message"] == f"handled {markers[0]}"
    assert first["log"]["level"] == "info"
    assert first["order"] == {"id": 0}
    assert set(first["event"]) == {"id"}  # ECS event.id only; structlog's `event` is the message
    assert not {"level", "timestamp"} & set(first)
    assert first["n"] == 0
    ledger.summary("structlog", len(markers))


def test_loguru_recipe_ships_every_record_once(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """loguru records: message is what was logged (not loguru's formatted line), bind()
    values are fields, SUCCESS keeps its name."""
    target = make_target("loguru")
    (tmp_path / "main.py").write_text(
        target.recipe("loguru") + "\n\n" + app_source("apps_loguru.py")
    )
    ledger, markers, _, _ = _run(target, tmp_path)
    info = ledger.with_text(f"handled {markers[0]}")[0]
    assert info["message"] == f"handled {markers[0]}"
    assert info["user"] == "ann"
    assert info["log"]["level"] == "info"
    assert ledger.with_text(f"handled {markers[5]}")[0]["log"]["level"] == "success"
    ledger.summary("loguru", len(markers))


def test_fileconfig_recipe_ships_every_record_once(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """logging.fileConfig with the README's logging.ini: every record once, exceptions
    with their trace."""
    target = make_target("fileconfig")
    (tmp_path / "logging.ini").write_text(target.recipe("fileconfig"))
    (tmp_path / "main.py").write_text(app_source("apps_fileconfig.py"))
    ledger, markers, _, _ = _run(target, tmp_path)
    assert ledger.with_text(f"handled {markers[0]}", logger="myapp")
    ledger.summary("fileconfig", len(markers))
