"""The setup check against a real framework: the logging dict the README used to show, run
under uvicorn, disables uvicorn.error and the app's loggers and ships access lines twice; the
handler says both on stderr, once each, when first used."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from apps_harness import Server, Target, app_source, drive, free_port, handler_said

pytestmark = pytest.mark.timeout(300)

OLD_README_MAIN = """
import os

import uvicorn

from myapp import app

LOGGING = {
    "version": 1,
    "handlers": {
        "kafka": {
            "class": "kafka_logging.KafkaHandler",
            "bootstrap_servers": "kafka-1:9092",
            "topic": "application-logs",
            "service_name": "checkout",
        },
    },
    "root": {"handlers": ["kafka"], "level": "INFO"},
    "loggers": {"uvicorn.access": {"handlers": ["kafka"]}},
}

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_config=LOGGING)
"""


def test_old_readme_dict_under_uvicorn_is_reported(
    make_target: Callable[[str], Target], tmp_path: Path
) -> None:
    """Two lines on stderr, each once: the disabled loggers (uvicorn.error, myapp) and the
    access logger reaching two KafkaHandlers."""
    target = make_target("setup-check")
    main = OLD_README_MAIN.replace("kafka-1:9092", target.bootstrap)
    main = main.replace("application-logs", target.topic).replace("checkout", target.service)
    (tmp_path / "main.py").write_text(main)
    (tmp_path / "myapp.py").write_text(app_source("apps_fastapi.py"))
    port = free_port()
    server = Server([sys.executable, "main.py"], tmp_path, port)
    try:
        server.wait_ready()
        drive(server.base, requests=20)
        server.stop()
    finally:
        server.kill()
    said = handler_said(server.output())
    disabled = [line for line in said if "are disabled" in line]
    twice = [line for line in said if "reach 2 KafkaHandlers" in line]
    assert len(disabled) == 1, said
    assert "myapp" in disabled[0]
    assert "uvicorn.error" in disabled[0]
    assert len(twice) == 1, said
    assert "'uvicorn.access'" in twice[0]
