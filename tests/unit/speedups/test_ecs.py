"""The compiled LogRecord -> ECS JSON gives exactly encode_json(EcsFormatter.build(record)),
and declines (None: the Python path encodes) exactly the records it does not know."""

from __future__ import annotations

import itertools
import logging
import os
import traceback
from types import ModuleType
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from kafka_logging.handler.ecs import ATTR_MESSAGE, ATTR_SPAN, EcsFormatter
from kafka_logging.handler.redact import Redactor
from kafka_logging.wire.record import encode_json

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
NAME = TEXT.filter(bool)
SECRETISH = st.sampled_from(["password=hunter2", "token: abc", "Authorization: Bearer x.y", ""])
LEVELS = st.sampled_from([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, 25, 60])
REDACTORS = st.sampled_from(
    [None, Redactor(), Redactor(patterns=[]), Redactor(patterns=[r"\d{4}", r"(?P<value>b+)"])]
)


class Boom(Exception):
    pass


def exc_info(message: str) -> Any:
    try:
        raise Boom(message)
    except Boom as exc:
        return (Boom, exc, exc.__traceback__)


def formatters(native: ModuleType, **options: Any) -> tuple[EcsFormatter, EcsFormatter]:
    """Two formatters with the same options and the same event-id state; the first encodes
    with the compiled module, the second is the Python path."""
    compiled, pure = EcsFormatter(**options), EcsFormatter(**options)
    compiled.fast_json = compiled.compiled_encoder(native)
    pure.fast_json = None
    for f in (compiled, pure):
        f._pid, f._id_base, f._id_counter = os.getpid(), 0xABCDEF << 64, itertools.count(7)
    return compiled, pure


@st.composite
def records(draw: st.DrawFn) -> tuple[logging.LogRecord, bool]:
    """A LogRecord as loggers and the handler make them, and whether it has extra fields."""
    message = draw(st.one_of(ANY_TEXT, SECRETISH.map(lambda s: f"login {s} ok")))
    args = draw(st.sampled_from([None, (), ("x",), (1, 2)]))
    msg = message.replace("%", "%%") + " %s" * len(args or ())
    error = draw(st.one_of(st.none(), ANY_TEXT.map(exc_info)))
    record = logging.LogRecord(
        draw(NAME), draw(LEVELS), draw(TEXT), draw(st.integers(0, 10**6)), msg, args, error,
        draw(st.one_of(st.none(), NAME)), draw(st.one_of(st.none(), st.just(""), ANY_TEXT)),
    )  # fmt: skip
    record.created = draw(st.floats(0, 4e9))
    if draw(st.booleans()):
        record.__dict__[ATTR_MESSAGE] = record.getMessage()
    if draw(st.booleans()):
        trace, span = draw(st.integers(0, 2**128 - 1)), draw(st.integers(0, 2**64 - 1))
        record.__dict__[ATTR_SPAN] = (trace, span)
    names = st.sampled_from(["user", "a.b", "message", "_private"])
    extras = draw(st.dictionaries(names, TEXT, max_size=2))
    record.__dict__.update(extras)
    return record, bool(extras)


@settings(max_examples=400, deadline=None)
@given(
    case=records(),
    redactor=REDACTORS,
    service=st.one_of(st.none(), NAME),
    hostname=NAME,
)
def test_ecs_json_is_byte_equal_to_the_python_path(
    native: ModuleType,
    case: tuple[logging.LogRecord, bool],
    redactor: Redactor | None,
    service: str | None,
    hostname: str,
) -> None:
    """Any message (quotes, control characters, non-ASCII, %-formatting, secrets), level,
    logger, origin, exception, stack info, span, timestamp, service and redaction: the same
    bytes and event id as encode_json(build(record)); declined only with extra= fields or
    text that is not valid Unicode."""
    record, has_extras = case
    compiled, pure = formatters(
        native, service_name=service, redactor=redactor, hostname=hostname, environment="prod"
    )
    assert compiled.fast_json is not None
    got = compiled.fast_json(record)
    expected = encode_json(pure.build(record))
    event("declined" if got is None else "compiled")
    if got is None:
        assert has_extras or not _valid_unicode(record), "declined a record it should know"
        return
    assert not has_extras
    value, event_id = got
    assert value == expected
    assert event_id == f"{0xABCDEF << 64 | 7:032x}"


def _valid_unicode(record: logging.LogRecord) -> bool:
    """Every text of the record can be UTF-8 (no lone surrogates)."""
    texts = [record.getMessage(), record.name, record.filename, record.funcName, record.stack_info]
    if record.exc_info:
        texts += [str(record.exc_info[1]), "".join(traceback.format_exception(*record.exc_info))]
    try:
        for text in texts:
            (text or "").encode()
    except UnicodeError:
        return False
    return True


def test_event_ids_follow_the_formatters_counter(native: ModuleType) -> None:
    """The compiled path takes the formatter's next id, so both paths never repeat one."""
    compiled, _ = formatters(native)
    record = logging.LogRecord("a", logging.INFO, "f.py", 1, "m", None, None)
    assert compiled.fast_json is not None
    first, second = compiled.fast_json(record), compiled.fast_json(record)
    assert first is not None
    assert second is not None
    assert int(second[1], 16) == int(first[1], 16) + 1
    assert int(compiled.build(record)["event"]["id"], 16) == int(second[1], 16) + 1
