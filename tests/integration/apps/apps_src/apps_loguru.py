"""Appended below the README's loguru recipe: loguru logging with bind(), then a normal exit."""

import os


def boom_view(marker):
    raise ValueError(f"boom {marker}")


bound = logger.bind(user="ann")  # noqa: F821 - the recipe above imports logger
for n in range(int(os.environ["RECORDS"])):
    marker = f"{os.environ['RUN']}n{n:04d}"
    if n % 10 == 9:
        try:
            boom_view(marker)
        except ValueError:
            bound.exception("failed {}", marker)
    elif n % 10 == 5:
        bound.success("handled {}", marker)
    else:
        bound.info("handled {}", marker)
logger.info("last line before exit")  # noqa: F821
