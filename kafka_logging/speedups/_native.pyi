"""Types of the compiled module (src/lib.rs); see kafka_logging/speedups/__init__.py."""

from collections.abc import Callable, Sequence
from typing import Any

INTERFACE: int

Line = tuple[int, int, str, tuple[str, ...]]
Message = tuple[bytes, bytes | None, list[tuple[str, bytes]]]

def frame_lines(
    data: bytes, offset: int, limit: int, errors: str = "replace"
) -> tuple[list[Line], int] | None: ...
def json_string(text: str) -> bytes: ...

class Splicer:
    def __init__(
        self,
        before_offset: bytes,
        before_eid: bytes,
        after_eid: bytes,
        eid_prefix: bytes,
        key: bytes | None,
        encoding_header: tuple[str, bytes],
        eid_name: str,
    ) -> None: ...
    def batch(
        self,
        events: Sequence[Sequence[Any]],
        head: bytes,
        slow: Callable[[int, str, tuple[str, ...]], Any],
    ) -> list[Message]: ...

class EcsEncoder:
    def __init__(
        self,
        formatter: Any,
        render_message: Callable[[Any], str],
        redact_text: Callable[[str], str] | None,
        redact_defaults: bool,
        redactor: Any,
        ecs_host: bytes,
        service: bytes,
        plain: int,
    ) -> None: ...
    def encode(self, record: Any) -> tuple[bytes, str] | None: ...
