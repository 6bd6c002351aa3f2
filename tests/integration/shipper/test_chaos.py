"""Crash acceptance: SIGKILL the shipper again and again, rotate files both ways, stop the
broker for 20+ s; afterwards every line written is in Kafka. Duplicates are reported.

Seeded (SHIPPER_CHAOS_SEED, default 4242) so a failure can be replayed; timing still varies.
One rule keeps the test honest about what no shipper can do: a file is rotated only once the
shipper's checkpoint holds its current generation (a generation created and rotated away
entirely while the shipper was dead, to a name the globs do not match, cannot be known).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from shipper_helpers import (
    consume,
    create_topic,
    every_message,
    make_config,
    start_again,
    write_config,
)

from kafka_logging.errors import FatalError
from shipper.checkpoint import CheckpointStore
from shipper.identity import head_hash

CLI = str(Path(sys.executable).parent / "kafka-logging")
SEED = int(os.environ.get("SHIPPER_CHAOS_SEED", "4242"))
KILLS = 12
OUTAGE_SECONDS = 21


class Chaos:
    def __init__(self, tmp_path: Path, config_path: Path, checkpoint: str) -> None:
        self.checkpoint = checkpoint
        self.rng = random.Random(SEED)
        self.logs = tmp_path / "logs"
        self.config_path = config_path
        self.stderr = open(tmp_path / "shipper.stderr", "ab")  # noqa: SIM115 - closed in finish
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.rotations = {"rename": 0, "copytruncate": 0}
        self.written: list[str] = []
        self.seq = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [CLI, "ship", "--config", str(self.config_path), "--log-level", "warning"],
            stderr=self.stderr,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1
        self.start()

    def write_some(self) -> None:
        name = self.rng.choice(["a.log", "b.log", "c.log"])
        lines = []
        for _ in range(self.rng.randint(1, 20)):
            self.seq += 1
            lines.append(f"{name}:{self.seq}:" + "p" * self.rng.randint(10, 200))
        with open(self.logs / name, "a") as f:
            f.writelines(f"{line}\n" for line in lines)
        self.written += lines

    def seen(self, path: Path) -> bool:
        """The checkpoint holds this generation of `path` (same inode, same head)."""
        try:
            entries = CheckpointStore(self.checkpoint).load() or []
            st = path.stat()
            with open(path, "rb") as f:
                head = f.read(1024)
        except (OSError, FatalError):
            return False
        return any(
            (e.dev, e.ino) == (st.st_dev, st.st_ino)
            and e.head_len > 0
            and head_hash(head[: e.head_len]) == e.head_hash
            for e in entries
        )

    def maybe_rotate(self, now: float) -> None:
        name = self.rng.choice(["a.log", "b.log"])
        if self.rng.random() > 0.05 or not (self.logs / name).exists():
            return
        if not self.seen(self.logs / name):
            return
        n = sum(self.rotations.values()) + 1
        if name == "a.log":
            os.rename(self.logs / name, self.logs / f"{name}.{n}")
            self.rotations["rename"] += 1
        else:
            shutil.copyfile(self.logs / name, self.logs / f"{name}.{n}")
            os.truncate(self.logs / name, 0)
            self.rotations["copytruncate"] += 1

    def finish(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.stderr.close()
        return code


@pytest.mark.timeout(300)
@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "2-workers"])
def test_every_line_survives_kill_9_rotations_and_a_broker_outage(
    tmp_path: Path, make_service: Any, workers: int
) -> None:
    """>= 10 SIGKILLs, both rotation kinds, broker down >= 20 s: every line arrives (also
    with producer worker processes, which die with the shipper)."""
    kafka = make_service("kafka")
    create_topic(kafka.address, "chaos")
    (tmp_path / "logs").mkdir()
    config = make_config(
        tmp_path,
        kafka.address,
        "chaos",
        [{"paths": [str(tmp_path / "logs" / "*.log")], "service": "chaos"}],
        output={
            "delivery_timeout_seconds": 5,
            "retry_backoff_seconds": 0.5,
            "retry_backoff_max_seconds": 2,
            "workers": workers,
        },
        limits={"max_in_flight_bytes": 262144, "idle_close_seconds": 2},
    )
    chaos = Chaos(tmp_path, write_config(tmp_path / "shipper.yaml", config), config.checkpoint.path)
    chaos.start()
    try:
        t0 = time.monotonic()
        next_kill = t0 + chaos.rng.uniform(1.0, 3.0)
        outage_at, outage_over = t0 + 6, False
        # Until both rotation kinds happened too: a file is rotated only once the checkpoint
        # holds it, which on a loaded machine can take longer than the kills do.
        while (
            chaos.kills < KILLS
            or not outage_over
            or time.monotonic() - t0 < 30
            or min(chaos.rotations.values()) < 1
        ):
            now = time.monotonic()
            chaos.write_some()
            chaos.maybe_rotate(now)
            if now >= next_kill:
                chaos.kill()
                next_kill = time.monotonic() + chaos.rng.uniform(1.0, 3.0)
            if not outage_over and now >= outage_at:
                kafka.stop()
                outage_at, outage_over = float("inf"), True
                stopped = time.monotonic()
                outage_end = stopped + OUTAGE_SECONDS
            if outage_over and outage_end and now >= outage_end:
                start_again(kafka)
                outage_end = 0.0
                print(f"broker was down {time.monotonic() - stopped:.1f} s")
            time.sleep(0.03)
        records = consume(kafka.address, "chaos", every_message(chaos.written), timeout=120, idle=3)
        assert chaos.finish() == 0
    finally:
        if chaos.proc is not None and chaos.proc.poll() is None:
            chaos.proc.kill()
            chaos.proc.wait()
    got = Counter(r["message"] for r in records)
    ids = Counter(r["event"]["id"] for r in records)
    missing = [line for line in chaos.written if line not in got]
    duplicates = sum(n - 1 for n in ids.values() if n > 1)
    print(
        f"chaos seed={SEED} workers={workers}: {len(chaos.written)} lines, {chaos.kills} kills, "
        f"rotations={chaos.rotations}, {len(records)} records, {duplicates} duplicate "
        f"event ids, {len(missing)} missing"
    )
    assert not missing, f"{len(missing)} lines lost, e.g. {missing[:3]}"
    assert set(got) == set(chaos.written)  # nothing invented
    assert chaos.kills >= 10
    assert chaos.rotations["rename"] >= 1
    assert chaos.rotations["copytruncate"] >= 1
    # Same line, same id: duplicates are replays, bounded by the in-flight window per kill.
    assert len(ids) == len(got)
    assert duplicates <= (chaos.kills + 1) * 262144 // 30
