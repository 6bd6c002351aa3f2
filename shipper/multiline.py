"""Multiline: joins consecutive lines into one event, with Filebeat's rules.

`pattern` / `negate` / `match` mean what Filebeat users know:
- match "after": a line for which (pattern matches) != negate continues the event before it;
  any other line starts a new event.
- match "before": such a line belongs with the line after it; the first other line ends the
  event.
Presets: "python" (tracebacks, chained exceptions, and the log line they follow) and "java"
(an exception line, "at ..." frames, "... N more", "Caused by:", "Suppressed:").

An event is at most `max_lines` lines and `max_bytes` bytes: past either it is closed (flag
"multiline_limit") and the next line starts a new event; nothing is dropped. A pending event is
flushed after `flush_timeout` seconds without new lines. An event is shipped only when closed,
and the checkpoint never passes its first byte before that, so a restart never splits it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from shipper.config import MultilineConfig
from shipper.reader import Event

# True when the line joins the current event (match after) / the next line (match before).
Rule = Callable[[str], bool]

_JAVA = re.compile(
    r"^\s+at\s|^\s*\.\.\. \d+ (more|common frames omitted)|^Caused by:|^\s+Suppressed:"
    r"|^([a-zA-Z_$][\w$]*\.)+[A-Za-z_$][\w$]*(Exception|Error|Throwable)\b"
)
_PY_CHAIN = (
    "During handling of the above exception",
    "The above exception was the direct cause",
)


class PythonTraceback:
    """Continuation rule for Python tracebacks (stateful; one per file)."""

    def __init__(self) -> None:
        self.in_traceback = False
        self.after_exception = False

    def __call__(self, line: str) -> bool:
        if line.startswith("Traceback (most recent call last)") or line.startswith(
            "Exception Group Traceback"
        ):
            self.in_traceback, self.after_exception = True, False
            return True
        if line.startswith(_PY_CHAIN):
            self.in_traceback, self.after_exception = False, True
            return True
        if line[:1].isspace():
            if self.after_exception and line.strip():
                self.after_exception = False
            return self.in_traceback or self.after_exception or bool(line.strip())
        if self.in_traceback:  # the first unindented line after the frames: the exception
            self.in_traceback, self.after_exception = False, True
            return True
        if self.after_exception and not line:  # blank line before a chained exception
            return True
        self.after_exception = False
        return False


def build_rule(config: MultilineConfig) -> Rule:
    if config.preset == "python":
        return PythonTraceback()
    if config.preset == "java":
        return lambda line: _JAVA.search(line) is not None
    assert config.pattern is not None
    search = re.compile(config.pattern).search
    if config.negate:
        return lambda line: search(line) is None
    return lambda line: search(line) is not None


class Multiline:
    """Stateful joiner for one file. feed() lines, get closed events."""

    def __init__(self, config: MultilineConfig) -> None:
        self.config = config
        self.before = config.match == "before"
        self.max_lines = config.max_lines
        self.max_bytes = config.max_bytes
        self.flush_timeout = config.flush_timeout_seconds
        self.reset()

    def reset(self) -> None:
        self.rule = build_rule(self.config)
        self.lines: list[Event] = []
        self.size = 0
        self.last_line = 0.0

    @property
    def pending_start(self) -> int | None:
        return self.lines[0][0] if self.lines else None

    def _close(self, extra: tuple[str, ...] = ()) -> Event:
        lines = self.lines
        flags: list[str] = []
        for line in lines:
            flags.extend(f for f in line[3] if f not in flags)
        if len(lines) > 1:
            flags.insert(0, "multiline")
        flags.extend(f for f in extra if f not in flags)
        # What a format layer added after the Line's four items is the first line's.
        first = lines[0]
        text = "\n".join(x[2] for x in lines)
        event: Event = (first[0], lines[-1][1], text, tuple(flags), *first[4:])
        self.lines, self.size = [], 0
        return event

    def _add(self, line: Event, out: list[Event]) -> None:
        if self.lines and (
            len(self.lines) >= self.max_lines or self.size + len(line[2]) > self.max_bytes
        ):
            out.append(self._close(("multiline_limit",)))
        self.lines.append(line)
        self.size += len(line[2]) + 1

    def feed(self, lines: Sequence[Event], now: float) -> list[Event]:
        out: list[Event] = []
        if lines:
            self.last_line = now
        rule = self.rule
        for line in lines:
            joins = rule(line[2])
            if self.before:
                self._add(line, out)
                if not joins:
                    out.append(self._close())
            else:
                if not joins and self.lines:
                    out.append(self._close())
                self._add(line, out)
        return out

    def flush(self, now: float, force: bool = False) -> list[Event]:
        """The pending event, if idle past flush_timeout (or `force`); else []."""
        if self.lines and (force or now - self.last_line >= self.flush_timeout):
            return [self._close()]
        return []
