"""The demo's sample app: a service that logs through KafkaHandler (dictConfig) and to a file.

Run as `python -m kafka_logging.demo.sample_app BOOTSTRAP SERVICE LOGFILE COUNT`. It prints
one JSON line: how many records it sent through the handler and how many events it wrote to the
file, and the handler's stats after close().
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import time


class UTCFormatter(logging.Formatter):
    """asctime in UTC, so the shipper's parser reads the file's own timestamps correctly."""

    converter = time.gmtime  # type: ignore[assignment]  # typeshed picks the 0-arg overload


def configure(bootstrap: str, service: str, logfile: str) -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "plain": {
                    "()": "kafka_logging.demo.sample_app.UTCFormatter",
                    "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
                },
            },
            "handlers": {
                "kafka": {
                    "class": "kafka_logging.KafkaHandler",
                    "bootstrap_servers": bootstrap,
                    "topic": "application-logs",
                    "service_name": service,
                    "environment": "demo",
                },
                "file": {
                    "class": "logging.FileHandler",
                    "filename": logfile,
                    "formatter": "plain",
                },
            },
            "loggers": {
                "shop": {"handlers": ["kafka"], "level": "DEBUG", "propagate": False},
                "shop.access": {"handlers": ["file"], "level": "INFO", "propagate": False},
            },
        }
    )


def checkout(order_id: int) -> None:
    try:
        {"books": 3}["games"]
    except KeyError as exc:
        raise RuntimeError(f"order {order_id}: no stock for games") from exc


def main(argv: list[str]) -> None:
    bootstrap, service, logfile, count = argv[0], argv[1], argv[2], int(argv[3])
    configure(bootstrap, service, logfile)
    log = logging.getLogger("shop")
    access = logging.getLogger("shop.access")
    sent = written = 0
    for i in range(count):
        log.info("order %d placed", i, extra={"order": {"id": i, "items": i % 5 + 1}})
        access.info('GET /orders/%d 200 "Mozilla/5.0"', i)
        sent += 1
        written += 1
        if i % 10 == 9:
            log.warning("slow payment provider", extra={"payment": {"latency_ms": 1250}})
            sent += 1
    try:
        checkout(42)
    except RuntimeError:
        log.exception("checkout failed", extra={"order": {"id": 42}})
        access.exception("checkout failed for order 42")  # a traceback: a multiline event
        sent += 1
        written += 1
    handler = next(h for h in log.handlers if type(h).__name__ == "KafkaHandler")
    handler.close()
    stats = handler.stats() if hasattr(handler, "stats") else {}
    print(json.dumps({"sent": sent, "written": written, "stats": stats}, default=str))
    logging.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
