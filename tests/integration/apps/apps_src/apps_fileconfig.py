"""Run beside the README's fileConfig recipe (logging.ini): logs, then a normal exit."""

import logging
import logging.config
import os

logging.config.fileConfig("logging.ini", disable_existing_loggers=False)
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
log.info("last line before exit")
