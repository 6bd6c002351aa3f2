"""Log files written and rotated (rename + create, and copytruncate) under the shipper.

Every line carries `gen=<file generator> seq=<n>`; the truth is simply how many lines each
generator wrote (it is never killed). Rotated files stay in the same directory, as logrotate
leaves them with `delaycompress`; copytruncate pauses writing between copy and truncate, the
condition under which the shipper guarantees no loss.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

SHIPPER_PATTERN = r"gen=(?P<chaos__gen>\S+) seq=(?P<chaos__seq>\d+)"


@dataclass
class FileWriter:
    folder: Path
    files: int
    lines_per_second: float
    rotate_every: int
    seed: int
    written: dict[str, int] = field(default_factory=dict)
    rotations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-files", daemon=True)
        self._rng = random.Random(self.seed)  # noqa: S311 - a reproducible schedule

    def names(self) -> dict[str, str]:
        """generator -> the file it writes."""
        return {f"file-{i}": f"service-{i}.log" for i in range(self.files)}

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        paths = [self.folder / f"service-{i}.log" for i in range(self.files)]
        handles: list[TextIO] = [p.open("a") for p in paths]
        generation = [0] * self.files
        interval = 1.0 / self.lines_per_second
        padding = "x" * 120
        while not self._stop.wait(interval):
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for i, out in enumerate(handles):
                gen = f"file-{i}"
                seq = self.written.get(gen, 0)
                out.write(f"{stamp} INFO chaos.files gen={gen} seq={seq} {padding}\n")
                out.flush()
                self.written[gen] = seq + 1
                if (seq + 1) % self.rotate_every == 0:
                    generation[i] += 1
                    handles[i] = self._rotate(paths[i], out, generation[i])
        for out in handles:
            out.close()

    def _rotate(self, path: Path, out: TextIO, generation: int) -> TextIO:
        rotated = path.with_name(f"{path.name}.{generation}")
        if self._rng.random() < 0.5:
            out.close()
            os.rename(path, rotated)
            self.rotations.append(f"{time.time():.1f} rename {path.name} -> {rotated.name}")
            return path.open("a")
        shutil.copyfile(path, rotated)
        out.truncate(0)
        out.seek(0)
        self.rotations.append(f"{time.time():.1f} copytruncate {path.name} -> {rotated.name}")
        return out
