"""A script with multiprocessing children (fork), appended below the README's recipe: each
child logs and returns; forked children end with os._exit(), which skips atexit."""

import logging
import multiprocessing
import os

log = logging.getLogger("myapp")


def boom_view(marker):
    raise ValueError(f"boom {marker}")


def child(first, count):
    for n in range(first, first + count):
        marker = f"{os.environ['RUN']}n{n:04d}"
        if n % 10 == 9:
            try:
                boom_view(marker)
            except ValueError:
                log.exception("failed %s", marker)
        else:
            log.info("handled %s", marker)


if __name__ == "__main__":
    log.info("parent starting")
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=child, args=(k * 100, 100)) for k in range(2)]
    for process in children:
        process.start()
    for process in children:
        process.join()
    with context.Pool(2) as pool:
        pool.starmap(child, [(200, 50), (250, 50)])
        pool.close()
        pool.join()
    log.info("parent done")
