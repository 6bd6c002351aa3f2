"""The composable index template for the daily log indices, with ECS mappings.

Only features every supported engine has, even in its minimal build (no mapper-extras, no data
streams, no ingest pipelines, no ILM/ISM): plain daily indices, `keyword` for ids/levels/names,
`text` + `.keyword` for `message`, `date` for `@timestamp`, dynamic templates for `labels.*`
and any extra field. The same body is accepted, and gives the same mappings, on
Elasticsearch 8.x and 9.x and OpenSearch 2.x and 3.x (tests/integration/ops), so it needs no
per-engine variant.

`install_template(client, settings)` is the public entry point; `kafka-logging index` calls it
on start and `kafka-logging setup` may call it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafka_logging.errors import FatalError, RetryableError

if TYPE_CHECKING:
    from indexer.config import IndexSettings
    from kafka_logging.engines.client import EngineClient

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
LONG: dict[str, Any] = {"type": "long"}
DATE: dict[str, Any] = {"type": "date"}
TEXT: dict[str, Any] = {"type": "text"}


def _obj(**fields: dict[str, Any]) -> dict[str, Any]:
    return {"properties": fields}


ECS_PROPERTIES: dict[str, Any] = {
    "@timestamp": DATE,
    "message": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 8191}}},
    "ecs": _obj(version=KEYWORD),
    "event": _obj(
        id=KEYWORD,
        dataset=KEYWORD,
        module=KEYWORD,
        kind=KEYWORD,
        category=KEYWORD,
        created=DATE,
        ingested=DATE,
        original={"type": "keyword", "index": False, "doc_values": False},
    ),
    "log": _obj(
        level=KEYWORD,
        logger=KEYWORD,
        offset=LONG,
        file=_obj(path=KEYWORD),
        origin=_obj(file=_obj(name=KEYWORD, line=LONG), function=KEYWORD),
    ),
    "service": _obj(
        name=KEYWORD,
        version=KEYWORD,
        environment=KEYWORD,
        type=KEYWORD,
        node=_obj(name=KEYWORD),
    ),
    "host": _obj(name=KEYWORD, hostname=KEYWORD, ip=KEYWORD, architecture=KEYWORD),
    "process": _obj(
        pid=LONG,
        name=KEYWORD,
        executable=KEYWORD,
        thread=_obj(id=LONG, name=KEYWORD),
    ),
    "error": _obj(type=KEYWORD, message=TEXT, stack_trace=TEXT, code=KEYWORD),
    "trace": _obj(id=KEYWORD),
    "span": _obj(id=KEYWORD),
    "transaction": _obj(id=KEYWORD),
    "agent": _obj(name=KEYWORD, type=KEYWORD, version=KEYWORD),
    "labels": {"type": "object"},
}

DYNAMIC_TEMPLATES: list[dict[str, Any]] = [
    # ECS: labels are keywords, whatever their value looks like.
    {"labels": {"path_match": "labels.*", "mapping": KEYWORD}},
    # Any other string: a keyword, so an unknown field is searchable without text analysis.
    {"strings_as_keyword": {"match_mapping_type": "string", "mapping": KEYWORD}},
]


def build_template(settings: IndexSettings) -> dict[str, Any]:
    """The body of `PUT _index_template/<settings.template_name>`."""
    return {
        "index_patterns": [settings.template_pattern],
        "priority": settings.priority,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": settings.shards,
                    "number_of_replicas": settings.replicas,
                    "refresh_interval": settings.refresh_interval,
                    "mapping": {"total_fields": {"limit": settings.total_fields_limit}},
                }
            },
            "mappings": {
                "dynamic": True,
                # A string that looks like a date must not fix a field's type by accident.
                "date_detection": False,
                "dynamic_templates": DYNAMIC_TEMPLATES,
                "properties": ECS_PROPERTIES,
            },
        },
        "_meta": {"managed_by": "kafka-logging indexer"},
    }


def install_template(client: EngineClient, settings: IndexSettings | None = None) -> None:
    """Create or update the index template (idempotent: the same PUT each time).

    `client` is a `kafka_logging.engines.client.EngineClient`; `settings` the `index` section
    of the indexer's config (defaults when None). Applies to indices created afterwards.
    Detects the engine first: UnsupportedEngineError (a FatalError) for one we do not support.
    Raises RetryableError when the engine cannot be reached or is overloaded, and
    FatalError when it refuses the template (a setting it does not accept).
    """
    from indexer.config import IndexSettings  # noqa: PLC0415
    from kafka_logging.engines.client import EngineApiError  # noqa: PLC0415

    settings = settings or IndexSettings()
    body = build_template(settings)
    try:
        client.engine()
        client.put_index_template(settings.template_name, body)
    except EngineApiError as exc:
        if exc.retryable:
            raise RetryableError(f"installing index template: {exc}") from exc
        raise FatalError(
            f"{client.url} refused index template {settings.template_name!r}: {exc}"
        ) from exc
    # EngineUnreachable is a RetryableError already; UnsupportedEngineError a FatalError.
