"""Appended below the README's structlog recipe: structlog-native logging, then a normal exit."""

import os

log = structlog.get_logger()  # noqa: F821 - the recipe above imports structlog


def boom_view(marker):
    raise ValueError(f"boom {marker}")


for n in range(int(os.environ["RECORDS"])):
    marker = f"{os.environ['RUN']}n{n:04d}"
    if n % 10 == 9:
        try:
            boom_view(marker)
        except ValueError:
            log.exception(f"failed {marker}", n=n)
    else:
        log.info(f"handled {marker}", n=n, order={"id": n})
log.info("last line before exit")
