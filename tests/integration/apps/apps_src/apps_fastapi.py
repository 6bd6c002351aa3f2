"""A FastAPI app for the uvicorn recipes, logging in its lifespan startup and shutdown."""

import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI

log = logging.getLogger("myapp")


@asynccontextmanager
async def lifespan(app):
    log.info("lifespan starting in %s", os.getpid())
    yield
    log.info("lifespan stopping in %s", os.getpid())


app = FastAPI(lifespan=lifespan)


def boom_view(marker):
    log.info("failing %s", marker)
    raise ValueError(f"boom {marker}")


@app.get("/ok")
def ok(m: str):
    log.info("handled %s", m)
    return {"ok": True}


@app.get("/boom")
def boom(m: str):
    boom_view(m)
