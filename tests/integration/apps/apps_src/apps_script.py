"""A plain script, appended below the README's recipe: logs, then is killed by SIGTERM at once
(sent to itself, so the records are surely still on their way)."""

import logging
import os
import signal

log = logging.getLogger("myapp")


def boom_view(marker):
    raise ValueError(f"boom {marker}")


for n in range(int(os.environ["RECORDS"])):
    marker = f"{os.environ['RUN']}n{n:04d}"
    if n % 10 == 9:
        try:
            boom_view(marker)
        except ValueError:
            log.exception("failed %s", marker)
    else:
        log.info("handled %s", marker)
log.info("last line before SIGTERM")
os.kill(os.getpid(), signal.SIGTERM)
signal.pause()
