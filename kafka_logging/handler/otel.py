"""The current OpenTelemetry span, captured on the caller's thread (context is per thread).

Only when opentelemetry-api is installed; otherwise `span_capture()` is None and the
handler pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable

SpanIds = tuple[int, int]


def span_capture() -> Callable[[], SpanIds | None] | None:
    """A function returning (trace_id, span_id) of the active, valid span, or None."""
    try:
        from opentelemetry.trace import get_current_span  # noqa: PLC0415
    except ImportError:
        return None

    def capture() -> SpanIds | None:
        context = get_current_span().get_span_context()
        if context.is_valid:
            return context.trace_id, context.span_id
        return None

    return capture
