"""Discovery: which regular files the configured globs match right now.

Globs are Python's (`**` matches any number of directories, hidden files need an explicit
dot). Excludes are fnmatch patterns tested against the full path and the file name. A file
matched by several inputs belongs to the first. Hard links to one inode are one file.
"""

from __future__ import annotations

import fnmatch
import glob
import os
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
