"""The Celery app, appended below the README's recipe (imports repeated so it lints alone)."""

import logging
import os

from celery import Celery, signals
from celery.utils.log import get_task_logger

app = Celery("tasks")
app.conf.broker_url = "filesystem://"
app.conf.broker_transport_options = {
    "data_folder_in": os.environ["BROKER_DIR"],
    "data_folder_out": os.environ["BROKER_DIR"],
    "processed_folder": os.environ["BROKER_DIR"],
    "store_processed": False,
}
app.conf.broker_connection_retry_on_startup = True
log = get_task_logger(__name__)
lifecycle = logging.getLogger("myapp")


def boom_view(marker):
    log.info("failing %s", marker)
    raise ValueError(f"boom {marker}")


@app.task(name="work")
def work(marker):
    log.info("handled %s", marker)
    return marker


@app.task(name="fail")
def fail(marker):
    boom_view(marker)


@signals.worker_process_init.connect
def pool_process_ready(**kwargs):
    lifecycle.info("pool process %s ready", os.getpid())


@signals.worker_process_shutdown.connect
def pool_process_stopping(**kwargs):
    lifecycle.info("pool process %s stopping", os.getpid())


@signals.worker_shutdown.connect
def worker_stopping(**kwargs):
    lifecycle.info("worker %s stopping", os.getpid())
