"""The README's Celery recipe (a setup_logging receiver) with a real prefork worker on
kombu's filesystem transport (no broker server): task records, Celery's own lines and the
pool processes' shutdown lines (they leave with os._exit) arrive exactly once."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apps_harness import (
    BIN,
    Ledger,
    Server,
    Target,
    Traffic,
    app_source,
    handler_said,
    message,
    pid,
    records,
)
from celery import Celery

pytestmark = pytest.mark.timeout(300)

READY = re.compile(r"pool process (\d+) ready")
TASKS = 200


def client(broker: Path) -> Celery:
    app = Celery("client")
    app.conf.broker_url = "filesystem://"
    app.conf.broker_transport_options = {
        "data_folder_in": str(broker),
        "data_folder_out": str(broker),
        "processed_folder": str(broker),
        "store_processed": False,
    }
    return app


def test_celery_recipe_prefork_ships_every_record_once(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """200 tasks (20 raising): each task's line and Celery's result line once, failures with
    error.type and the full trace, the worker's ready line (Celery left the root logger
    alone), every pool process's ready and stopping lines after SIGTERM."""
    target = make_target("celery")
    broker = tmp_path / "broker"
    broker.mkdir()
    (tmp_path / "tasks.py").write_text(
        target.recipe("celery") + "\n\n" + app_source("apps_celery.py")
    )
    argv = [str(BIN / "celery"), "-A", "tasks", "worker", "--pool", "prefork", "-c", "2"]
    server = Server([*argv, "--loglevel", "INFO"], tmp_path, 0, env={"BROKER_DIR": str(broker)})
    traffic = Traffic()
    try:
        sender = client(broker)
        for n in range(TASKS):
            marker = f"mk{target.topic[-8:]}00n{n:04d}"
            boom = n % 10 == 9
            (traffic.boom if boom else traffic.ok).append(marker)
            sender.send_task("fail" if boom else "work", args=[marker])
        wanted = set(traffic.all)

        def tasks_done(got: list[dict[str, Any]]) -> bool:
            seen = {m for r in got for m in re.findall(r"mk[0-9a-f]{10}n\d{4}", message(r))}
            seen |= {
                m
                for r in got
                if isinstance(r.get("error"), dict)
                for m in re.findall(r"mk[0-9a-f]{10}n\d{4}", r["error"]["message"])
            }
            return wanted <= seen

        records(target, tasks_done, timeout=180)
        code = server.stop()
    finally:
        server.kill()
    assert code == 0, server.output()

    def done(got: list[dict[str, Any]]) -> bool:
        texts = [message(r) for r in got]
        return sum("stopping" in t for t in texts) >= 3

    ledger = Ledger(records(target, done), target.service, server.output())
    ledger.no_duplicate_event_ids()
    ledger.all_from_service()
    ledger.once_each(traffic.ok, "handled {}", "tasks")
    ledger.once_each(traffic.boom, "failing {}", "tasks")
    ledger.once_each(traffic.ok, "{}", "celery.app.trace")
    ledger.exceptions_once(traffic.boom)
    ledger.lines_present(" ready.")
    children = {int(m.group(1)) for r in ledger.got if (m := READY.search(message(r)))}
    assert len(children) == 2, children
    for child in children:
        assert [pid(r) for r in ledger.with_text(f"pool process {child} stopping")] == [child]
    task_pids = {pid(r) for r in ledger.got if r["log"]["logger"] == "tasks"}
    assert task_pids <= children
    main = [r for r in ledger.got if re.fullmatch(r"worker \d+ stopping", message(r))]
    assert len(main) == 1, "the main process's worker_shutdown line"
    ledger.summary("celery", len(traffic.all))
    assert handler_said(server.output()) == []
