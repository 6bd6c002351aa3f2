"""KafkaHandler against the real broker: records consumed back and checked field by field."""

from __future__ import annotations

import logging
import logging.config
import os
import socket
from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from handler_helpers import consume
from opentelemetry.sdk.trace import TracerProvider

from kafka_logging import KafkaHandler
from kafka_logging.wire import avro
from kafka_logging.wire.record import ECS_VERSION

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    log = logging.getLogger(f"it.handler.{request.node.name}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


def test_fields_round_trip(kafka_bootstrap: str, topic: str, logger: logging.Logger) -> None:
    """Every ECS field, a chained exception, nested and non-JSON extras, unicode and the
    active OpenTelemetry span ids arrive intact, with headers and the service/host/pid key."""
    handler = KafkaHandler(
        kafka_bootstrap, topic, service_name="it-svc", service_version="9.9", environment="test"
    )
    logger.addHandler(handler)
    tracer = TracerProvider().get_tracer("it")
    with tracer.start_as_current_span("request") as span:
        context = span.get_span_context()
        try:
            try:
                int("x")
            except ValueError as inner:
                raise KeyError("order 7") from inner
        except KeyError:
            logger.exception(
                "failed for %s ✓ 日本語",
                "Zoë",
                extra={"order": {"id": 7, "lines": [{"sku": "a"}]}, "obj": Opaque(), "n": {1, 2}},
            )
    logger.info("second")
    assert handler.flush(30)
    got = consume(kafka_bootstrap, topic, 2)
    assert len(got) == 2
    first, second = got
    rec = first.record
    assert rec["message"] == "failed for Zoë ✓ 日本語"
    assert rec["log"]["level"] == "error"
    assert rec["log"]["logger"] == logger.name
    assert rec["log"]["origin"]["function"] == "test_fields_round_trip"
    assert rec["log"]["origin"]["file"]["name"] == "test_handler_kafka.py"
    assert rec["ecs"]["version"] == ECS_VERSION
    assert rec["service"] == {"name": "it-svc", "version": "9.9", "environment": "test"}
    assert rec["host"]["hostname"] == socket.gethostname()
    assert rec["process"]["pid"] == os.getpid()
    assert rec["process"]["thread"]["name"] == "MainThread"
    assert rec["error"]["type"] == "KeyError"
    assert rec["error"]["message"] == "'order 7'"
    assert "ValueError: invalid literal for int()" in rec["error"]["stack_trace"]
    assert "direct cause" in rec["error"]["stack_trace"]
    assert rec["order"] == {"id": 7, "lines": [{"sku": "a"}]}
    assert rec["obj"] == "Opaque()"
    assert sorted(rec["n"]) == [1, 2]
    assert rec["trace"]["id"] == f"{context.trace_id:032x}"
    assert rec["span"]["id"] == f"{context.span_id:016x}"
    assert rec["@timestamp"].endswith("Z")
    assert first.headers["kl.encoding"] == b"json"
    assert first.headers["kl.event_id"].decode() == rec["event"]["id"]
    assert first.key == f"it-svc/{socket.gethostname()}/{os.getpid()}".encode()
    assert "trace" not in second.record
    assert second.record["event"]["id"] != rec["event"]["id"]
    stats = handler.stats()
    assert stats["delivered"] == 2
    assert stats["dropped_total"] == 0


def test_dictconfig(kafka_bootstrap: str, topic: str) -> None:
    """A handler configured by dictConfig with plain values ships to the broker."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "kafka": {
                    "class": "kafka_logging.KafkaHandler",
                    "bootstrap_servers": kafka_bootstrap,
                    "topic": topic,
                    "service_name": "dict-svc",
                    "environment": "ci",
                    "level": "INFO",
                    "producer_config": {"linger.ms": 1, "compression.type": "lz4"},
                }
            },
            "loggers": {"it.dictconfig": {"handlers": ["kafka"], "level": "DEBUG"}},
        }
    )
    log = logging.getLogger("it.dictconfig")
    handler = log.handlers[0]
    try:
        log.debug("filtered by the handler level")
        log.info("configured by dict")
        assert isinstance(handler, KafkaHandler)
        assert handler.flush(30)
        (got,) = consume(kafka_bootstrap, topic, 1)
        assert got.record["message"] == "configured by dict"
        assert got.record["service"] == {"name": "dict-svc", "environment": "ci"}
    finally:
        log.removeHandler(handler)
        handler.close()


def test_many_records_all_once(kafka_bootstrap: str, topic: str, logger: logging.Logger) -> None:
    """5,000 records from 4 threads arrive exactly once each, in order per thread."""
    import threading

    handler = KafkaHandler(kafka_bootstrap, topic, service_name="many")
    logger.addHandler(handler)

    def work(t: int) -> None:
        for i in range(1250):
            logger.info("t%d-%d", t, i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert handler.flush(60)
    got = consume(kafka_bootstrap, topic, 5000)
    messages = [c.record["message"] for c in got]
    assert len(messages) == 5000
    assert len(set(messages)) == 5000
    assert len({c.record["event"]["id"] for c in got}) == 5000
    for t in range(4):
        mine = [int(m.split("-")[1]) for m in messages if m.startswith(f"t{t}-")]
        assert mine == list(range(1250))


def test_avro_single_object_through_kafka(
    kafka_bootstrap: str, topic: str, logger: logging.Logger
) -> None:
    """serializer='avro': single-object encoding on the wire, decoded to the JSON-equal dict."""
    handler = KafkaHandler(kafka_bootstrap, topic, service_name="avro-svc", serializer="avro")
    logger.addHandler(handler)
    try:
        raise RuntimeError("avro boom")
    except RuntimeError:
        logger.error("in avro é", exc_info=True, extra={"ctx": {"a": [1, None, "x"]}})
    assert handler.flush(30)
    (got,) = consume(kafka_bootstrap, topic, 1)
    assert got.headers["kl.encoding"] == b"avro"
    assert got.value[:2] == b"\xc3\x01"
    assert got.value[2:10] == avro.codec().fingerprint
    assert got.record["message"] == "in avro é"
    assert got.record["ctx"] == {"a": [1, None, "x"]}
    assert got.record["error"]["type"] == "RuntimeError"
    assert got.record["event"]["id"] == got.headers["kl.event_id"].decode()


def test_avro_confluent_with_registry(
    kafka_bootstrap: str, topic: str, logger: logging.Logger, schema_registry_url: str
) -> None:
    """With a schema registry (Apicurio, ccompat API) the value is Confluent wire format
    whose schema id resolves in the registry to the shipped schema."""
    handler = KafkaHandler(
        kafka_bootstrap,
        topic,
        service_name="reg-svc",
        serializer="avro",
        schema_registry_url=schema_registry_url,
    )
    logger.addHandler(handler)
    logger.warning("registered %d", 1, extra={"x": {"y": True}})
    assert handler.flush(30)
    (got,) = consume(kafka_bootstrap, topic, 1)
    assert got.headers["kl.encoding"] == b"avro-confluent"
    assert got.value[:1] == b"\x00"
    schema_id = int.from_bytes(got.value[1:5], "big")
    client = SchemaRegistryClient({"url": schema_registry_url})
    registered = client.get_schema(schema_id)
    assert registered.schema_type == "AVRO"
    assert "io.kafka_logging.v1" in registered.schema_str
    latest = client.get_latest_version(f"{topic}-value")
    assert latest.schema_id == schema_id
    by_registry = avro.decode_confluent_with(got.value, lambda i: client.get_schema(i).schema_str)
    assert by_registry == got.record
    assert got.record["message"] == "registered 1"
    assert got.record["x"] == {"y": True}


def test_oversized_record_is_accepted_truncated(
    kafka_bootstrap: str, topic: str, logger: logging.Logger
) -> None:
    """A 3 MB message with a long traceback is truncated to fit the broker's limit, flagged,
    and accepted: nothing rejected, nothing dropped."""
    handler = KafkaHandler(kafka_bootstrap, topic, service_name="big")
    logger.addHandler(handler)
    try:
        raise ValueError("v" * 2_000_000)
    except ValueError:
        logger.exception("m" * 3_000_000)
    assert handler.flush(30)
    (got,) = consume(kafka_bootstrap, topic, 1)
    assert len(got.value) <= 1_000_000
    assert got.record["kafka_logging"]["truncated"] is True
    assert got.record["kafka_logging"]["original_size"] > 5_000_000
    assert got.record["message"].startswith("mmm")
    assert got.record["error"]["type"] == "ValueError"
    stats = handler.stats()
    assert stats["delivered"] == 1
    assert stats["dropped_total"] == 0
    assert stats["failed"] == {}
