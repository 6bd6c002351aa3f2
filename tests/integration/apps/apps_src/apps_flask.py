"""The Flask app, appended below the README's recipe (imports repeated so it lints alone)."""

import logging

from flask import Flask, request

app = Flask(__name__)
log = logging.getLogger("myapp")


def boom_view(marker):
    log.info("failing %s", marker)
    raise ValueError(f"boom {marker}")


@app.get("/ok")
def ok():
    log.info("handled %s", request.args["m"])
    return "ok"


@app.get("/boom")
def boom():
    boom_view(request.args["m"])
