"""Discovery: which regular files the configured globs match right now.

Globs are Python's (`**` matches any number of directories, hidden files need an explicit
dot). Excludes are fnmatch patterns tested against the full path and the file name. A file
matched by several inputs belongs to the first. Hard links to one inode are one file.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
from dataclasses import dataclass

from shipper.identity import FileKey


@dataclass(frozen=True, slots=True)
class Found:
    path: str
    key: FileKey
    size: int
    input: int  # index into config.inputs


class Discovery:
    def __init__(self, inputs: list[tuple[list[str], list[str]]]) -> None:
        """`inputs`: per input, (path globs, exclude patterns)."""
        self.inputs = inputs

    def excluded(self, path: str, excludes: list[str]) -> bool:
        name = os.path.basename(path)
        return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in excludes)

    def scan(self) -> dict[FileKey, Found]:
        found: dict[FileKey, Found] = {}
        for index, (patterns, excludes) in enumerate(self.inputs):
            for pattern in patterns:
                for path in sorted(glob.glob(pattern, recursive=True)):
                    if excludes and self.excluded(path, excludes):
                        continue
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue  # vanished between glob and stat
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    key = (st.st_dev, st.st_ino)
                    if key not in found:
                        found[key] = Found(path, key, st.st_size, index)
        return found


# What rotation tools call a rotated file, after the live file's name `app.log`:
#   logrotate  app.log.1  app.log.2.gz  app.log-20261207  app.log-2026120712  (dateext)
#              app-20261207.log (dateext + `extension .log`)
#   kubelet    0.log.20261207-120102  (gzipped later: 0.log.20261207-120102.gz)
#   Docker     container-json.log.1  (.1.gz when compressed)
_SUFFIX = re.compile(r"[.\-_][0-9][0-9T:.\-_]*")
#   logrotate  app.log-2026120717.backup: `create` found a file already at app.log (the app
#              reopened it between logrotate's rename and its create) and moved it aside
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z")
BACKUP = ".backup"


def compressed(name: str) -> bool:
    return name.endswith(COMPRESSED)


def live_names(name: str) -> list[str]:
    """The live file names that `name` could be a rotation of (none when it is not a rotated
    name): `app.log.2.gz` -> [`app.log`], `app-20261207.log` -> [`app.log`]."""
    name = name.removesuffix(BACKUP)
    for ext in COMPRESSED:
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    out = [name[:i] for i in _starts(name) if _SUFFIX.fullmatch(name, i)]
    stem, dot, extension = name.rpartition(".")
    if dot and stem and not extension[:1].isdigit():
        out += [stem[:i] + "." + extension for i in _starts(stem) if _SUFFIX.fullmatch(stem, i)]
    return out


def _starts(name: str) -> list[int]:
    """Positions (after the first character) where a rotation suffix could begin."""
    return [i for i in range(1, len(name) - 1) if name[i] in ".-_" and name[i + 1].isdigit()]


def rotation_of(name: str, live: str) -> bool:
    """True when file `name` is a rotated (or rotated and compressed) name of `live`."""
    return live in live_names(name)
