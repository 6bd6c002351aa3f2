"""The README's script recipe with multiprocessing children started by fork (Process and
Pool): their records arrive although forked children end with os._exit()."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from apps_harness import Ledger, Server, Target, app_source, handler_said, message, pid, records

pytestmark = pytest.mark.timeout(300)


def test_script_recipe_with_forked_children(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """Two Process children and a two-process Pool log 300 records (30 exceptions) and
    return: every record arrives once, from the children's own processes."""
    target = make_target("multiprocessing")
    source = target.recipe("script") + "\n\n" + app_source("apps_multiprocessing.py")
    (tmp_path / "main.py").write_text(source)
    run = f"mk{uuid.uuid4().hex[:10]}"
    server = Server([sys.executable, "main.py"], tmp_path, 0, env={"RUN": run})
    try:
        code = server.proc.wait(120)
    finally:
        server.kill()
    assert code == 0, server.output()
    markers = [f"{run}n{n:04d}" for n in range(300)]
    boom = [m for n, m in enumerate(markers) if n % 10 == 9]
    ok = [m for m in markers if m not in boom]

    def done(got: list[dict[str, object]]) -> bool:
        return len(got) >= 302

    ledger = Ledger(records(target, done), target.service, server.output())
    ledger.no_duplicate_event_ids()
    ledger.all_from_service()
    ledger.once_each(ok, "handled {}", "myapp")
    ledger.once_each(boom, "failed {}", "myapp")
    ledger.exceptions_once(boom)
    ledger.lines_present("parent starting", "parent done")
    [parent] = {pid(r) for r in ledger.got if message(r).startswith("parent")}
    children = {pid(r) for r in ledger.got} - {parent}
    assert len(children) >= 3, children  # two Process children, one or two Pool workers
    assert len(ledger.got) == 302
    ledger.summary("multiprocessing", len(markers))
    assert handler_said(server.output()) == []
