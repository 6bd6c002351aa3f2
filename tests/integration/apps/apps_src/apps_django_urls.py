"""The Django project's views: /ok logs one line, /boom logs one and raises."""

import logging

from django.http import HttpResponse
from django.urls import path

log = logging.getLogger("myapp")


def boom_view(marker):
    log.info("failing %s", marker)
    raise ValueError(f"boom {marker}")


def ok(request):
    log.info("handled %s", request.GET["m"])
    return HttpResponse("ok")


def boom(request):
    boom_view(request.GET["m"])


urlpatterns = [path("ok", ok), path("boom", boom)]
