"""KafkaHandler behaviour on a fake producer: never raises, bounded, spools, counts drops."""

from __future__ import annotations

import logging
import logging.config
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from handler_fakes import FakeError, FakeProducer

from kafka_logging import KafkaHandler
from kafka_logging.errors import ConfigError
from kafka_logging.wire.record import decode

MakeHandler = Callable[..., KafkaHandler]


def delivered_all(handler: KafkaHandler, timeout: float = 15.0) -> bool:
    """Flush until everything is delivered (flush returns early while Kafka is down)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if handler.flush(1):
            return True
        pause.wait(0.05)
    return False


def messages(producer: FakeProducer) -> list[str]:
    return [decode(m.value(), m.headers())["message"] for m in producer.delivered]


def test_records_are_delivered_with_headers_and_key(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """Each record is produced once with encoding and event-id headers, keyed by service,
    host and process."""
    handler = make_handler()
    logger.addHandler(handler)
    for i in range(10):
        logger.info("n=%d", i)
    assert handler.flush(5)
    (producer,) = producers
    assert messages(producer) == [f"n={i}" for i in range(10)]
    msg = producer.delivered[0]
    headers = dict(msg.headers())
    assert headers["kl.encoding"] == b"json"
    assert headers["kl.event_id"].decode() == decode(msg.value(), msg.headers())["event"]["id"]
    assert msg.key().startswith(b"unit/")
    stats = handler.stats()
    assert stats["enqueued"] == 10
    assert stats["delivered"] == 10
    assert stats["dropped_total"] == 0


def test_construction_connects_to_nothing(producers: list[FakeProducer]) -> None:
    """Construction creates no producer and no thread; the first record does."""
    before = threading.active_count()
    handler = KafkaHandler("127.0.0.1:1", service_name="lazy")
    assert producers == []
    assert threading.active_count() == before
    handler.close()


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"bootstrap_servers": ""}, "bootstrap_servers"),
        ({"serializer": "xml"}, "serializer"),
        ({"max_queue_records": 0}, "max_queue_records"),
        ({"shed_level": "LOUD"}, "shed_level"),
        ({"producer_config": {"no.such.setting": 1}}, "no.such.setting"),
        ({"producer_config": {"error_cb": "x"}}, "error_cb"),
        ({"redact_patterns": ["("]}, "redact_patterns"),
    ],
)
def test_bad_argument_raises_naming_it(kwargs: dict[str, Any], named: str) -> None:
    """A bad argument raises ConfigError at construction, naming the argument."""
    kwargs.setdefault("bootstrap_servers", "127.0.0.1:1")
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        KafkaHandler(**kwargs)


def test_dictconfig_with_plain_values(producers: list[FakeProducer]) -> None:
    """dictConfig builds the handler from plain values (strings for levels and paths)."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "kafka": {
                    "class": "kafka_logging.KafkaHandler",
                    "bootstrap_servers": "127.0.0.1:1",
                    "topic": "t",
                    "service_name": "dict",
                    "shed_level": "ERROR",
                    "level": "INFO",
                    "producer_config": {"linger.ms": 20},
                }
            },
            "loggers": {"unit.dictconfig": {"handlers": ["kafka"], "level": "DEBUG"}},
        }
    )
    handler = logging.getLogger("unit.dictconfig").handlers[0]
    assert isinstance(handler, KafkaHandler)
    assert handler.options.shed_level == logging.ERROR
    assert handler.level == logging.INFO
    logging.getLogger("unit.dictconfig").info("via dictConfig")
    assert handler.flush(5)
    assert messages(producers[0]) == ["via dictConfig"]
    assert producers[0].config["linger.ms"] == 20
    logging.getLogger("unit.dictconfig").removeHandler(handler)
    handler.close()


def test_fileconfig_with_args(tmp_path: Path, producers: list[FakeProducer]) -> None:
    """fileConfig builds the handler from args/kwargs."""
    ini = tmp_path / "logging.ini"
    ini.write_text(
        "[loggers]\nkeys=root,app\n[handlers]\nkeys=kafka\n[formatters]\nkeys=\n"
        "[logger_root]\nhandlers=\n[logger_app]\nqualname=unit.fileconfig\nhandlers=kafka\n"
        "level=INFO\n[handler_kafka]\nclass=kafka_logging.KafkaHandler\n"
        "args=('127.0.0.1:1', 'topic-f')\nkwargs={'service_name': 'filecfg'}\n"
    )
    logging.config.fileConfig(ini, disable_existing_loggers=False)
    handler = logging.getLogger("unit.fileconfig").handlers[0]
    assert isinstance(handler, KafkaHandler)
    assert handler.options.topic == "topic-f"
    logging.getLogger("unit.fileconfig").removeHandler(handler)
    handler.close()


def test_emit_never_raises_when_everything_fails(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """Broken queue machinery inside emit() is counted, never raised into the caller."""
    handler = make_handler()
    logger.addHandler(handler)
    handler._queue = None  # type: ignore[assignment]
    logger.info("lost on purpose")
    assert handler._stats.dropped() == {"emit_error": 1}


def test_queue_overflow_sheds_low_levels_first(
    make_handler: MakeHandler, logger: logging.Logger
) -> None:
    """With the queue 80% full INFO is shed while WARNING is kept until completely full."""
    handler = make_handler(max_queue_records=10)
    handler._wake.set()  # the worker never runs: the queue only fills
    logger.addHandler(handler)
    for _ in range(8):
        logger.info("fill")
    logger.info("shed me")
    logger.warning("keep me")
    logger.warning("keep me too")
    logger.error("no room")
    assert len(handler._queue) == 10
    assert handler.stats()["dropped"] == {"queue_shed": 1, "queue_full": 1}


def test_buffer_error_spools_in_order(
    make_handler: MakeHandler,
    logger: logging.Logger,
    producers: list[FakeProducer],
    tmp_path: Path,
) -> None:
    """When the producer's queue is full, records go to the spool and replay in order later."""
    handler = make_handler(spool_dir=str(tmp_path))
    logger.addHandler(handler)
    logger.info("first")
    assert handler.flush(5)
    producer = producers[0]
    producer.up = False
    producer.capacity = 3
    for i in range(10):
        logger.info("r%d", i)
    handler.flush(5)
    stats = handler.stats()
    assert stats["spooled"] == 10  # 3 purged back from the producer + 7 straight to disk
    assert stats["kafka_down"]
    producer.up = True
    producer.capacity = 10**6
    assert delivered_all(handler)
    assert messages(producer) == ["first"] + [f"r{i}" for i in range(10)]
    stats = handler.stats()
    assert stats["replayed"] == 10
    assert stats["spool_bytes"] == 0


def test_all_brokers_down_then_back(
    make_handler: MakeHandler,
    logger: logging.Logger,
    producers: list[FakeProducer],
    tmp_path: Path,
) -> None:
    """An outage sends records to the spool; the probe ends it; nothing lost or doubled."""
    handler = make_handler(spool_dir=str(tmp_path))
    logger.addHandler(handler)
    logger.info("before")
    assert handler.flush(5)
    producer = producers[0]
    producer.go_down()
    for i in range(50):
        logger.warning("during %d", i)
    handler.flush(5)
    assert handler.stats()["spooled"] == 50
    producer.up = True
    assert delivered_all(handler)
    got = messages(producer)
    assert got == ["before"] + [f"during {i}" for i in range(50)]
    ids = [decode(m.value(), m.headers())["event"]["id"] for m in producer.delivered]
    assert len(set(ids)) == len(ids)


def test_without_spool_overflow_is_counted(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """Without a spool, what does not fit the producer's buffer is dropped and counted."""
    handler = make_handler()
    logger.addHandler(handler)
    logger.info("start")
    assert handler.flush(5)
    producer = producers[0]
    producer.up = False
    producer.capacity = 5
    for i in range(8):
        logger.info("x%d", i)
    handler.flush(0.5)
    assert handler.stats()["dropped"] == {"kafka_queue_full": 3}


def test_close_keeps_deadline_and_counts_undelivered(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """close() with a broker that never answers returns at its deadline; losses are counted."""
    handler = make_handler()
    logger.addHandler(handler)
    logger.info("warm up")
    assert handler.flush(5)
    producers[0].up = False
    for i in range(4):
        logger.info("stuck %d", i)
    handler.close(timeout=0.5)
    assert handler.stats()["dropped"] == {"shutdown_deadline": 4}
    assert not handler._worker.thread.is_alive()  # type: ignore[union-attr]


def test_close_moves_undelivered_into_spool(
    make_handler: MakeHandler,
    logger: logging.Logger,
    producers: list[FakeProducer],
    tmp_path: Path,
) -> None:
    """With a spool, records still in the producer at the close deadline are spooled."""
    handler = make_handler(spool_dir=str(tmp_path))
    logger.addHandler(handler)
    logger.info("warm up")
    assert handler.flush(5)
    producers[0].up = False
    for i in range(4):
        logger.info("stuck %d", i)
    handler.close(timeout=0.5)
    stats = handler.stats()
    assert stats["spooled"] == 4
    assert stats["dropped_total"] == 0
    assert list(tmp_path.glob("*.spool"))


def test_after_close_records_are_counted(make_handler: MakeHandler, logger: logging.Logger) -> None:
    """A record emitted after close() is refused and counted, not queued forever."""
    handler = make_handler()
    logger.addHandler(handler)
    handler.close()
    logger.info("too late")
    assert handler.stats()["dropped"] == {"closed": 1}


def test_records_from_the_worker_thread_do_not_come_back(
    make_handler: MakeHandler, logger: logging.Logger
) -> None:
    """A record logged on the handler's own thread is refused (no recursion)."""
    handler = make_handler()
    logger.addHandler(handler)
    logger.info("start the worker")
    assert handler.flush(5)
    record = logger.makeRecord(logger.name, logging.INFO, "f", 1, "from worker", (), None)
    record.thread = handler._worker_ident
    handler.handle(record)
    assert handler.stats()["dropped"] == {"recursion": 1}


def test_message_args_rendered_at_call_time(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """An argument mutated after the call does not change the logged message."""
    handler = make_handler()
    handler._wake.set()  # hold the worker off until we mutated the argument
    logger.addHandler(handler)
    items = ["a"]
    logger.info("items=%s", items)
    items.append("b")
    handler._wake.clear()
    handler._wakeup()
    assert handler.flush(5)
    assert messages(producers[0]) == ["items=['a']"]


def test_oversized_record_is_truncated_not_rejected(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """A record beyond max_record_bytes is produced truncated with the flag."""
    handler = make_handler(max_record_bytes=10_000)
    logger.addHandler(handler)
    logger.info("x" * 50_000)
    assert handler.flush(5)
    msg = producers[0].delivered[0]
    assert len(msg.value()) <= 10_000
    assert decode(msg.value(), msg.headers())["kafka_logging"]["truncated"] is True


def test_avro_serializer(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """serializer='avro' without a registry writes single-object encoding with its header."""
    handler = make_handler(serializer="avro")
    logger.addHandler(handler)
    logger.info("in avro", extra={"k": [1, 2]})
    assert handler.flush(5)
    msg = producers[0].delivered[0]
    assert dict(msg.headers())["kl.encoding"] == b"avro"
    out = decode(msg.value(), msg.headers())
    assert out["message"] == "in avro"
    assert out["k"] == [1, 2]


def test_key_field_configurable(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """key_field picks the Kafka key from the record; None means no key."""
    handler = make_handler(key_field="log.logger")
    logger.addHandler(handler)
    logger.info("k")
    assert handler.flush(5)
    assert producers[0].delivered[0].key() == logger.name.encode()
    other = make_handler(key_field=None)
    logger.removeHandler(handler)
    logger.addHandler(other)
    logger.info("no key")
    assert other.flush(5)
    assert producers[1].delivered[0].key() is None


def test_default_producer_settings(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """Idempotence, acks=all and zstd by default; producer_config overrides and adds."""
    handler = make_handler(producer_config={"security.protocol": "SSL", "linger.ms": 50})
    logger.addHandler(handler)
    logger.info("x")
    handler.flush(5)
    config = producers[0].config
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["compression.type"] == "zstd"
    assert config["security.protocol"] == "SSL"
    assert config["linger.ms"] == 50


def test_import_stays_light() -> None:
    """`import kafka_logging` (and resolving KafkaHandler) pulls in nothing of the server
    extra: no click, elasticsearch, PyYAML or prometheus-client."""
    import subprocess
    import sys

    code = (
        "import sys, kafka_logging; kafka_logging.KafkaHandler; "
        "bad = [m for m in ('click', 'elasticsearch', 'elastic_transport', 'yaml', "
        "'prometheus_client') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_flush_returns_promptly_when_kafka_is_down_without_spool(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """With Kafka down and no spool, flush() does not wait for deliveries that cannot happen."""
    handler = make_handler(flush_timeout=30)
    logger.addHandler(handler)
    logger.info("start")
    assert handler.flush(5)
    producers[0].go_down()
    logger.info("cannot be delivered now")
    start = time.monotonic()
    assert not handler.flush()
    assert time.monotonic() - start < 10


def test_fatal_producer_error_replaces_the_producer(
    make_handler: MakeHandler,
    logger: logging.Logger,
    producers: list[FakeProducer],
    tmp_path: Path,
) -> None:
    """After a fatal producer error a new producer takes over; the old one's messages are
    spooled and delivered through the new one, none lost."""
    handler = make_handler(spool_dir=str(tmp_path))
    logger.addHandler(handler)
    logger.info("warm up")
    assert handler.flush(5)
    old = producers[0]
    old.up = False
    for i in range(3):
        logger.info("held %d", i)
    wait_for = threading.Event()
    deadline = time.monotonic() + 5
    while len(old.queued) < 3 and time.monotonic() < deadline:
        wait_for.wait(0.01)

    class Fatal(FakeError):
        def fatal(self) -> bool:
            return True

    old.config["error_cb"](Fatal("_FATAL", retriable=False))
    assert delivered_all(handler)
    assert len(producers) == 2
    assert messages(producers[1]) == [f"held {i}" for i in range(3)]
    assert handler.stats()["failed"] == {"fatal:_FATAL": 1}


def test_unreachable_registry_falls_back_to_single_object(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """With the schema registry unreachable, Avro records still ship, in single-object
    encoding (decodable without a registry), and the problem is reported."""
    handler = make_handler(serializer="avro", schema_registry_url="http://127.0.0.1:1")
    logger.addHandler(handler)
    logger.info("no registry")
    assert handler.flush(60)
    msg = producers[0].delivered[0]
    assert dict(msg.headers())["kl.encoding"] == b"avro"
    assert decode(msg.value(), msg.headers())["message"] == "no registry"
    assert "schema registry" in (handler.stats()["last_error"] or "")


def test_spool_full_sheds_info_before_warning(
    make_handler: MakeHandler,
    logger: logging.Logger,
    producers: list[FakeProducer],
    tmp_path: Path,
) -> None:
    """With Kafka down and the spool 80% full, INFO is shed while WARNING is still spooled
    until the spool is full; every drop is counted by reason."""
    handler = make_handler(spool_dir=str(tmp_path), spool_max_bytes=20_000)
    logger.addHandler(handler)
    logger.info("warm up")
    assert handler.flush(5)
    producers[0].go_down()
    for i in range(60):  # ~400 bytes each: fills past 80% of 20 kB
        logger.info("info %d %s", i, "x" * 200)
    handler.flush(5)
    shed = handler.stats()["dropped"].get("spool_shed", 0)
    assert shed > 0
    for i in range(10):
        logger.warning("warning %d %s", i, "x" * 200)
    handler.flush(5)
    stats = handler.stats()
    assert stats["dropped"].get("spool_shed", 0) == shed  # no WARNING was shed
    for i in range(60):
        logger.error("error %d %s", i, "x" * 200)
    handler.flush(5)
    stats = handler.stats()
    assert stats["dropped"]["spool_full"] > 0
    assert stats["spool_bytes"] <= 20_000
    assert stats["spooled"] + stats["dropped_total"] == 130


def test_tls_and_sasl_settings_pass_through(producers: list[FakeProducer]) -> None:
    """TLS/SASL settings go to librdkafka as given (checked by it at construction); a bad
    value is refused there, named."""
    handler = KafkaHandler(
        "127.0.0.1:1",
        producer_config={
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "app",
            "sasl.password": "secret",
            "ssl.endpoint.identification.algorithm": "https",
        },
    )
    assert handler._settings.producer_config["security.protocol"] == "SASL_SSL"
    assert handler._settings.producer_config["sasl.mechanism"] == "SCRAM-SHA-512"
    handler.close()
    with pytest.raises(ConfigError, match=r"security\.protocol|NOPE"):
        KafkaHandler("127.0.0.1:1", producer_config={"security.protocol": "NOPE"})


def test_default_key_is_service_host_and_pid(
    make_handler: MakeHandler, logger: logging.Logger, producers: list[FakeProducer]
) -> None:
    """By default the key is service/host/pid (one partition per process, order kept within
    it); key_field="service.name" gives the old one-partition-per-service key."""
    import os
    import socket

    handler = make_handler()
    logger.addHandler(handler)
    logger.info("k")
    assert handler.flush(5)
    expected = f"unit/{socket.gethostname()}/{os.getpid()}".encode()
    assert producers[0].delivered[0].key() == expected
    logger.removeHandler(handler)
    old = make_handler(key_field="service.name")
    logger.addHandler(old)
    logger.info("k")
    assert old.flush(5)
    assert producers[1].delivered[0].key() == b"unit"


def test_close_replays_the_spool_when_kafka_is_back_before_the_next_probe(
    make_handler: MakeHandler,
    logger: logging.Logger,
    producers: list[FakeProducer],
    tmp_path: Path,
) -> None:
    """Records spooled while Kafka was away are delivered by close() when Kafka is back,
    without waiting for the backed-off probe: nothing is left on disk for a next start that
    may never come."""
    handler = make_handler(spool_dir=str(tmp_path), close_timeout=10)
    logger.addHandler(handler)
    logger.info("warm up")
    assert handler.flush(5)
    worker = handler._worker
    assert worker is not None
    worker._probe_backoff = 3600.0  # after the first probe fails, the next is an hour away
    producers[0].go_down()
    for i in range(5):
        logger.info("spooled %d", i)
    handler.flush(5)
    assert handler.stats()["spooled"] == 5
    wait = threading.Event()
    deadline = time.monotonic() + 5
    while worker._replay_in_flight == 0 and time.monotonic() < deadline:
        wait.wait(0.01)  # the first probe is out (held by the broker that is away)
    producers[0].purge()  # ... and fails
    while worker._replay_in_flight and time.monotonic() < deadline:
        wait.wait(0.01)
    assert worker.down
    assert worker._replay_in_flight == 0
    producers[0].up = True  # Kafka is back; no probe would notice for an hour
    handler.close()
    assert messages(producers[0])[1:] == [f"spooled {i}" for i in range(5)]
    assert handler.stats()["spool_bytes"] == 0
