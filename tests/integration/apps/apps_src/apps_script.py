"""A plain script, appended below the README's recipe: logs, then waits to be stopped."""

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
print("logged", flush=True)
signal.pause()
