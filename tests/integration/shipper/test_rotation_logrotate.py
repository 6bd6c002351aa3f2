"""Debian's real logrotate rotating a busy file under a shipper that is killed at random.

A writer appends ~2,000 numbered lines/s to app.log (reopening it when its inode changes, as
WatchedFileHandler does). `logrotate -f -s STATE CONF` rotates it every 0.2-0.8 s, with
`create`, `copytruncate`, or `create` + `compress` + `delaycompress`. The shipper (the real
`kafka-logging ship` process, real Kafka) is SIGKILLed or SIGTERMed at random moments, often
right after a rotation, and logrotate rotates again while it is down. Configured like
deploy/shipper.yaml (`app.log`, excluding `*.gz` and `*.[0-9]`), and once with globs that also
match rotated names (the issue-14 case 2 setting).

Afterwards, from the topic: every line written is there (create), or every line not in
logrotate's own copy-to-truncate window (copytruncate: the window is measured per rotation
from the copy's last line and the truncated file's first line, and printed); every line that
arrived more than once carries its first copy's event.id (the indexer keeps one).

Seeded: ROTATION_SEEDS (default "1,2") replays schedules; timing still varies.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from shipper_helpers import consume, create_topic, make_config, write_config

CLI = str(Path(sys.executable).parent / "kafka-logging")
SEEDS = [int(s) for s in os.environ.get("ROTATION_SEEDS", "1,2").split(",")]
EPISODE_SECONDS = 8.0
LOG_LEVEL = os.environ.get("ROTATION_LOG_LEVEL", "info")
LINES_PER_SECOND = 2000
BATCH = 10  # lines per write(): one write every 5 ms
PAD = "p" * 140
LINE = re.compile(rb"^(\d{9}) ")

MODES = {
    "create": "create\n",
    "copytruncate": "copytruncate\n",
    "create-compress-delaycompress": "create\ncompress\ndelaycompress\n",
    "copytruncate-globs-match-rotated": "copytruncate\n",
}


def logrotate() -> str:
    path = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not os.access(path, os.X_OK):
        message = "logrotate is not installed (apt-get install -y logrotate; .ci/run does it)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


class Writer:
    """~2,000 lines/s to `path`; reopens when the path's inode changes (create rotation)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seq = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> tuple[int, int]:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return fd, os.fstat(fd).st_ino

    def _run(self) -> None:
        fd, ino = self._open()
        interval = BATCH / LINES_PER_SECOND
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                if os.stat(self.path).st_ino != ino:
                    raise FileNotFoundError
            except FileNotFoundError:
                os.close(fd)
                fd, ino = self._open()
            lines = [f"{self.seq + i:09d} {time.time():.6f} {PAD}\n" for i in range(BATCH)]
            os.write(fd, "".join(lines).encode())
            self.seq += BATCH
            next_at += interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))
        os.close(fd)


def first_seq(path: Path) -> int | None:
    try:
        with open(path, "rb") as f:
            line = f.readline()
    except FileNotFoundError:
        return None
    m = LINE.match(line)
    return int(m.group(1)) if m and line.endswith(b"\n") else None


def last_seq(path: Path) -> int | None:
    data = path.read_bytes()
    end = data.rfind(b"\n")
    if end < 0:
        return None
    m = LINE.match(data[data.rfind(b"\n", 0, end) + 1 : end + 1])
    return int(m.group(1)) if m else None


class Episode:
    def __init__(
        self, tmp_path: Path, mode: str, seed: int, config: Path, checkpoint: Path
    ) -> None:
        self.checkpoint = checkpoint
        self.rng = random.Random(seed)
        self.mode = mode
        self.logs = tmp_path / "logs"
        self.log = self.logs / "app.log"
        self.config = config
        self.state = tmp_path / "logrotate.state"
        self.conf = tmp_path / "logrotate.conf"
        self.conf.write_text(
            f"{self.log} {{\n  rotate 1000\n  missingok\n  ifempty\n  nomail\n{MODES[mode]}}}\n"
        )
        self.conf.chmod(0o644)
        self.stderr = (tmp_path / "shipper.stderr").open("ab")
        self.proc: subprocess.Popen[bytes] | None = None
        self.writer = Writer(self.log)
        self.windows: list[tuple[int, int]] = []  # copytruncate: (last in copy, first after)
        self.first_after = 0
        self.rotations = self.while_down = self.kills = self.terms = 0
        self.logrotate = logrotate()

    def start(self) -> None:
        self.started_at = time.time_ns()
        argv = [CLI, "ship", "--config", str(self.config), "--log-level", LOG_LEVEL]
        self.proc = subprocess.Popen(argv, stderr=self.stderr)

    def wait_ready(self) -> None:
        """Until the shipper's first scan is in its checkpoint (it is then tailing)."""
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.checkpoint.stat().st_mtime_ns >= self.started_at:
                    return
            except FileNotFoundError:
                pass
            assert self.proc is not None
            assert self.proc.poll() is None, "the shipper exited"
            assert time.monotonic() < deadline, "the shipper did not start"
            threading.Event().wait(0.01)

    def stop(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        # -15: SIGTERM arrived before the shipper installed its handler (still starting up)
        assert sig == signal.SIGKILL or code in (0, -15), f"shipper exited {code} after SIGTERM"
        self.proc = None
        if sig == signal.SIGKILL:
            self.kills += 1
        else:
            self.terms += 1

    def rotate(self) -> None:
        subprocess.run(
            [self.logrotate, "-f", "-s", str(self.state), str(self.conf)],
            check=True,
            capture_output=True,
        )
        self.rotations += 1
        self.while_down += self.proc is None
        if "copytruncate" in self.mode:
            self._measure_window()

    def _measure_window(self) -> None:
        """The lines logrotate lost itself: written after its copy, before its truncate."""
        copy = self.logs / "app.log.1"
        last = last_seq(copy)
        deadline = time.monotonic() + 5
        first = first_seq(self.log)
        while first is None and time.monotonic() < deadline:
            threading.Event().wait(0.002)
            first = first_seq(self.log)
        assert first is not None, "the writer wrote nothing after a truncate"
        self.windows.append((self.first_after - 1 if last is None else last, first))
        self.first_after = first

    def run(self) -> None:
        self.writer.thread.start()
        self.start()
        self.wait_ready()  # history starts at the shipper's very first start
        t0 = time.monotonic()
        pause = threading.Event()
        while time.monotonic() - t0 < EPISODE_SECONDS:
            pause.wait(self.rng.uniform(0.2, 0.8))
            self.rotate()
            roll = self.rng.random()
            if roll < 0.5:  # a stop right after the rotation (0-50 ms), rotations while down
                pause.wait(self.rng.uniform(0, 0.05))
                self.stop(signal.SIGKILL if self.rng.random() < 0.7 else signal.SIGTERM)
                for _ in range(self.rng.randint(1, 2)):
                    pause.wait(self.rng.uniform(0.05, 0.4))
                    self.rotate()
                self.restart()
            elif roll < 0.7:  # a stop at a random moment
                pause.wait(self.rng.uniform(0, 0.5))
                self.stop(signal.SIGKILL)
                pause.wait(self.rng.uniform(0.05, 0.5))
                self.restart()
        self.writer.stop.set()
        self.writer.thread.join(10)

    def restart(self) -> None:
        self.start()
        if self.rng.random() < 0.3:  # a rotation while it starts up
            self.rotate()
        self.wait_ready()

    def finish(self) -> None:
        if self.proc is not None:
            self.stop(signal.SIGTERM)
        self.stderr.close()

    def lost_by_logrotate(self) -> set[int]:
        return {s for last, first in self.windows for s in range(last + 1, first)}


def seq_of(record: dict[str, Any]) -> int:
    """The line's number; -1 for a record that is no line the writer wrote."""
    m = LINE.match(record["message"].encode())
    return int(m.group(1)) if m else -1


def inputs(tmp_path: Path, mode: str) -> list[dict[str, Any]]:
    log = str(tmp_path / "logs" / "app.log")
    if mode == "copytruncate-globs-match-rotated":
        return [{"paths": [log, log + ".[0-9]"], "exclude": ["*.gz"], "service": "rot"}]
    return [{"paths": [log], "exclude": ["*.gz", "*.[0-9]"], "service": "rot"}]


def run_episode(
    tmp_path: Path, kafka_bootstrap: str, topic: str, mode: str, seed: int
) -> dict[str, Any]:
    (tmp_path / "logs").mkdir(parents=True)
    config = make_config(
        tmp_path,
        kafka_bootstrap,
        topic,
        inputs(tmp_path, mode),
        limits={"scan_interval_seconds": 1.0, "idle_close_seconds": 2},
        checkpoint={"path": str(tmp_path / "state" / "checkpoint.json"), "interval_seconds": 1},
    )
    episode = Episode(
        tmp_path,
        mode,
        seed,
        write_config(tmp_path / "shipper.yaml", config),
        Path(config.checkpoint.path),
    )
    try:
        episode.run()
        written = episode.writer.seq
        allowed = episode.lost_by_logrotate()
        expected = set(range(written)) - allowed

        def complete(records: list[dict[str, Any]]) -> bool:
            return expected <= {seq_of(r) for r in records}

        records = consume(kafka_bootstrap, topic, complete, timeout=120, idle=1.0)
    finally:
        episode.finish()
    ids: dict[int, set[str]] = defaultdict(set)
    copies: dict[int, int] = defaultdict(int)
    garbage = [r["message"][:40] for r in records if seq_of(r) < 0]
    for r in records:
        seq = seq_of(r)
        ids[seq].add(r["event"]["id"])
        copies[seq] += 1
    lost = sorted(expected - set(ids))
    return {
        "mode": mode,
        "seed": seed,
        "written": written,
        "rotations": episode.rotations,
        "rotations_while_down": episode.while_down,
        "sigkills": episode.kills,
        "sigterms": episode.terms,
        "lost": lost,
        "window_lines_per_rotation": [max(0, b - a - 1) for a, b in episode.windows],
        "lost_by_logrotate": len(allowed),
        "repeats": sum(c - 1 for c in copies.values()),
        "repeats_with_new_ids": sorted(s for s, e in ids.items() if len(e) > 1),
        "unexpected": sorted(s for s in ids if s >= written),
        "garbage": garbage[:5],
    }


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", list(MODES))
def test_logrotate_under_kills_loses_nothing_and_repeats_keep_their_ids(
    tmp_path: Path, kafka_bootstrap: str, topic: str, mode: str
) -> None:
    """Real logrotate at a high rate, the shipper SIGKILLed/SIGTERMed at random (right after
    rotations, rotations while it is down): no line lost (copytruncate: none beyond logrotate's
    own copy-to-truncate window), every repeat with its first copy's event.id."""
    logrotate()
    for seed in SEEDS:
        create_topic(kafka_bootstrap, f"{topic}-s{seed}")
        report = run_episode(
            tmp_path / f"seed-{seed}", kafka_bootstrap, f"{topic}-s{seed}", mode, seed
        )
        print({k: v for k, v in report.items() if k != "lost"}, f"lost={len(report['lost'])}")
        assert report["rotations_while_down"] > 0
        assert report["lost"] == [], report
        assert report["repeats_with_new_ids"] == [], report
        assert report["unexpected"] == [], report
        assert report["garbage"] == [], report
