"""A WSGI app for the gunicorn recipes: /ok logs one line, /boom logs one and raises."""

import logging
from urllib.parse import parse_qs

log = logging.getLogger("myapp")


def boom_view(marker):
    log.info("failing %s", marker)
    raise ValueError(f"boom {marker}")


def app(environ, start_response):
    marker = parse_qs(environ.get("QUERY_STRING", "")).get("m", ["-"])[0]
    if environ["PATH_INFO"] == "/boom":
        boom_view(marker)
    log.info("handled %s", marker)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
