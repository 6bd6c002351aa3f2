"""kafka_logging.logging_config(), the setup check and the exit hooks: pure logic, and the
signal behaviour in a child interpreter (signal dispositions are process-wide)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

import kafka_logging
from kafka_logging import KafkaHandler
from kafka_logging.errors import ConfigError
from kafka_logging.handler.setup_check import find_problems

MakeHandler = Callable[..., KafkaHandler]


def tree(*names: str) -> tuple[logging.Manager, logging.RootLogger]:
    """A private logger hierarchy (the process's own is left alone)."""
    root = logging.RootLogger(logging.WARNING)
    manager = logging.Manager(root)
    for name in names:
        manager.getLogger(name)
    return manager, root


def test_config_keeps_existing_loggers_and_one_handler_on_root() -> None:
    """disable_existing_loggers is False; the Kafka handler sits on root once; uvicorn's
    loggers propagate with no handler of their own."""
    config = kafka_logging.logging_config(bootstrap_servers="k:9092", service_name="svc")
    assert config["disable_existing_loggers"] is False
    assert config["root"]["handlers"] == ["kafka"]
    assert config["handlers"]["kafka"]["class"] == "kafka_logging.KafkaHandler"
    assert config["handlers"]["kafka"]["service_name"] == "svc"
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name] == {"handlers": [], "propagate": True}


def test_config_wires_gunicorn_loggers_without_propagation() -> None:
    """gunicorn.error/access name the handler, do not propagate, and leave the level to
    gunicorn's --log-level; gunicorn's top-level merge keeps them intact."""
    config = kafka_logging.logging_config(bootstrap_servers="k:9092", console=True)
    merged = {"loggers": {"gunicorn.error": {"handlers": ["error_console"]}}, **config}
    for name in ("gunicorn.error", "gunicorn.access"):
        assert merged["loggers"][name] == {"handlers": ["kafka", "console"], "propagate": False}
    assert config["root"]["handlers"] == ["kafka", "console"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"bootstrap_servers": "k:9092", "max_queue_records": 0}, "max_queue_records"),
        ({"bootstrap_servers": "k:9092", "servce_name": "x"}, "servce_name"),
        ({}, "bootstrap_servers"),
    ],
)
def test_bad_handler_option_raises_naming_it(options: dict[str, object], named: str) -> None:
    """A wrong option fails when the config is built, not later inside the framework."""
    with pytest.raises(ConfigError, match=named):
        kafka_logging.logging_config(**options)


def test_clean_tree_has_no_problems(make_handler: MakeHandler) -> None:
    """Handler on root only, framework loggers propagating: nothing to say."""
    manager, root = tree("uvicorn.error", "uvicorn.access", "myapp")
    root.addHandler(make_handler())
    assert find_problems(manager.loggerDict, root) == []


def test_disabled_loggers_are_named(make_handler: MakeHandler) -> None:
    """Loggers switched off by disable_existing_loggers are reported by name: the
    framework's first, the standard library's last."""
    manager, root = tree("asyncio", "uvicorn.error", "myapp.views")
    root.addHandler(make_handler())
    for name in ("asyncio", "uvicorn.error", "myapp.views"):
        manager.getLogger(name).disabled = True
    [problem] = find_problems(manager.loggerDict, root)
    assert "3 logger(s) are disabled" in problem
    assert "uvicorn.error, myapp.views, asyncio" in problem
    assert "disable_existing_loggers" in problem


def test_second_kafka_handler_on_the_propagation_path_is_reported(
    make_handler: MakeHandler,
) -> None:
    """A handler on uvicorn.access that also propagates to root's handler ships twice."""
    manager, root = tree("uvicorn.access")
    root.addHandler(make_handler())
    access = manager.getLogger("uvicorn.access")
    access.addHandler(make_handler())
    [problem] = find_problems(manager.loggerDict, root)
    assert "'uvicorn.access' reach 2 KafkaHandlers" in problem
    access.propagate = False
    assert find_problems(manager.loggerDict, root) == []


def test_handlers_for_different_topics_are_not_duplicates(make_handler: MakeHandler) -> None:
    """An audit logger with its own topic, propagating to root, is deliberate."""
    manager, root = tree("audit")
    root.addHandler(make_handler())
    audit = KafkaHandler("127.0.0.1:1", "audit-topic", service_name="unit")
    try:
        manager.getLogger("audit").addHandler(audit)
        assert find_problems(manager.loggerDict, root) == []
    finally:
        audit.close(timeout=1)


def test_gunicorn_logger_without_handler_is_a_dead_end(make_handler: MakeHandler) -> None:
    """gunicorn.access configured with a level only: no handler, no propagation."""
    manager, root = tree("gunicorn.access")
    root.addHandler(make_handler())
    access = manager.getLogger("gunicorn.access")
    access.propagate = False
    [problem] = find_problems(manager.loggerDict, root)
    assert "'gunicorn.access' has no handler and does not propagate" in problem


def run_child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sigterm_flushes_then_dies_by_sigterm() -> None:
    """With the default SIGTERM disposition, the guard flushes (bounded by flush_timeout,
    here against an unreachable broker) and the process still dies by SIGTERM."""
    child = run_child(
        """
        import logging, os, signal
        from kafka_logging import KafkaHandler
        handler = KafkaHandler("127.0.0.1:1", service_name="t", flush_timeout=0.5)
        logging.getLogger().addHandler(handler)
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        logging.getLogger().warning("one record")
        os.kill(os.getpid(), signal.SIGTERM)
        print("survived")
        """
    )
    assert child.returncode == -signal.SIGTERM, child.stderr
    assert "survived" not in child.stdout


def test_app_sigterm_handler_is_never_replaced() -> None:
    """A SIGTERM handler the app installed first stays the one Python calls."""
    child = run_child(
        """
        import signal
        from kafka_logging import KafkaHandler
        def mine(signum, frame):
            print("app handler ran")
        signal.signal(signal.SIGTERM, mine)
        KafkaHandler("127.0.0.1:1", service_name="t")
        assert signal.getsignal(signal.SIGTERM) is mine
        signal.raise_signal(signal.SIGTERM)
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout == "app handler ran\n"


def test_handler_built_off_the_main_thread_leaves_signals_alone() -> None:
    """signal.signal() belongs to the main thread: a handler built elsewhere installs nothing."""
    child = run_child(
        """
        import signal, threading
        from kafka_logging import KafkaHandler
        t = threading.Thread(target=KafkaHandler, args=("127.0.0.1:1",))
        t.start(); t.join()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        """
    )
    assert child.returncode == 0, child.stderr


def test_celery_pool_exit_gets_a_flush() -> None:
    """With Celery imported, a handler's construction connects one worker_process_shutdown
    receiver (pool processes leave with os._exit(), which skips atexit)."""
    child = run_child(
        """
        from celery import signals
        from kafka_logging import KafkaHandler
        from kafka_logging.handler import shutdown
        KafkaHandler("127.0.0.1:1", service_name="t")
        KafkaHandler("127.0.0.1:1", service_name="t")
        receivers = [r for r in signals.worker_process_shutdown.receivers
                     if "_flush_on_celery_exit" in repr(r)]
        print(len(receivers))
        signals.worker_process_shutdown.send(sender=None, pid=1, exitcode=0)
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout == "1\n"


def test_uvicorn_use_colors_finds_the_formatters_it_sets() -> None:
    """uvicorn writes use_colors into formatters 'default' and 'access' of a log_config dict
    (--use-colors / --no-use-colors): the dict has both, so uvicorn starts."""
    child = run_child(
        """
        import uvicorn, kafka_logging
        config = kafka_logging.logging_config(bootstrap_servers="127.0.0.1:1")
        uvicorn.Config("x:app", log_config=config, use_colors=False).configure_logging()
        import logging
        print(type(logging.getLogger().handlers[0]).__name__)
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout == "KafkaHandler\n"
