"""EngineClient: one thin, thread-safe client for the handful of search-engine APIs we use.

Built on `elastic-transport` (connection pools per node, several hosts, TLS, dead-node
back-off), it sends plain `application/json` / `application/x-ndjson`, which Elasticsearch
8.x and 9.x and OpenSearch 2.x and 3.x all accept. The official `elasticsearch` 9.x client
sends `compatible-with=9` (refused by 8.x with 400, by OpenSearch with 406) and refuses any
server that is not Elasticsearch; `opensearch-py` would be a second client for the same
dozen calls. elastic-transport 8.13+ and 9.x have the same API, so an application pinned to
the `elasticsearch` 8 client can install kafka-logging beside it.

Errors are translated here: `EngineApiError` (the engine answered with an error status; its
`status`, `error_type` and `reason` are parsed from the body) and `EngineUnreachable`
(no answer: refused, timed out, TLS). The engine is detected on first need (`engine()`),
and every engine difference comes from `kafka_logging.engines.engine.Engine`.
"""

from __future__ import annotations

import base64
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from kafka_logging.engines.engine import (
    SUPPORTED_TEXT,
    Engine,
    UnsupportedEngineError,
    identify,
    identify_from_nodes,
)
from kafka_logging.errors import ConfigError, FatalError, KafkaLoggingError, RetryableError

if TYPE_CHECKING:
    from kafka_logging.config import ElasticsearchSettings

JSON = "application/json"
NDJSON = "application/x-ndjson"

# `elasticsearch.client` passthrough keys understood, by where they go.
NODE_OPTIONS = frozenset(
    {
        "connections_per_node",
        "http_compress",
        "client_cert",
        "client_key",
        "ssl_assert_hostname",
        "ssl_assert_fingerprint",
        "ssl_show_warn",
        "headers",
    }
)
TRANSPORT_OPTIONS = frozenset({"max_retries", "retry_on_timeout", "retry_on_status"})
# Keys of ElasticsearchSettings.client_kwargs() that are EngineClient parameters.
_CORE = frozenset({"hosts", "request_timeout", "verify_certs", "ca_certs", "basic_auth", "api_key"})


class EngineApiError(KafkaLoggingError):
    """The engine answered with an error status."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else None
        self.error: dict[str, Any] | None = error if isinstance(error, dict) else None
        self.error_type: str | None = (
            str(self.error["type"]) if self.error and "type" in self.error else None
        )
        if self.error:
            self.reason = str(self.error.get("reason") or self.error_type)
        elif isinstance(body, (str, bytes)) and body:
            text = body.decode(errors="replace") if isinstance(body, bytes) else body
            self.reason = text.strip().splitlines()[0][:200] if text.strip() else ""
        elif isinstance(error, str):
            self.reason = error
        else:
            self.reason = ""
        kind = f"{self.error_type}: " if self.error_type else ""
        super().__init__(f"{method} {path} answered {status}: {kind}{self.reason}".rstrip(": "))

    @property
    def retryable(self) -> bool:
        """Overload or unavailability, not a mistake in the request."""
        return self.status in (408, 429) or self.status >= 500


class EngineUnreachable(RetryableError):
    """No answer from any host: connection refused, timed out, TLS failure."""


class _OrjsonSerializer:
    """JSON both ways with orjson; bytes and str bodies pass through untouched."""

    mimetype = JSON

    def dumps(self, data: Any) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode()
        return orjson.dumps(data)

    def loads(self, data: bytes) -> Any:
        return orjson.loads(data) if data else None


class _TextSerializer(_OrjsonSerializer):
    mimetype = "text/plain"

    def loads(self, data: bytes) -> Any:
        return data.decode(errors="replace")


def _api_key_header(api_key: str) -> str:
    """`ApiKey <base64(id:key)>`; an `id:key` pair is encoded, an encoded key used as is."""
    if ":" in api_key:
        api_key = base64.b64encode(api_key.encode()).decode()
    return f"ApiKey {api_key}"


def _path(*parts: str) -> str:
    return "/" + "/".join(urllib.parse.quote(p, safe=",*-_.") for p in parts)


class EngineClient:
    """Requests to Elasticsearch or OpenSearch; see the module docstring. Thread-safe."""

    def __init__(
        self,
        hosts: list[str],
        *,
        request_timeout: float = 30.0,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        api_key: str | None = None,
        max_retries: int = 0,
        retry_on_timeout: bool = False,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        from elastic_transport import NodeConfig, Transport  # noqa: PLC0415 - keep import light
        from elastic_transport.client_utils import (  # noqa: PLC0415
            basic_auth_to_header,
            url_to_node_config,
        )

        options = dict(options or {})
        unknown = sorted(set(options) - NODE_OPTIONS - TRANSPORT_OPTIONS)
        if unknown:
            raise ConfigError(
                f"elasticsearch.client: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(NODE_OPTIONS | TRANSPORT_OPTIONS))})"
            )
        headers: dict[str, str] = {"accept": JSON}
        headers.update(options.pop("headers", None) or {})
        if basic_auth is not None:
            headers["authorization"] = basic_auth_to_header(basic_auth)
        if api_key is not None:
            headers["authorization"] = _api_key_header(api_key)
        self.uses_api_key = api_key is not None
        self.url = ", ".join(hosts)
        node_options = {k: v for k, v in options.items() if k in NODE_OPTIONS}
        configs: list[NodeConfig] = []
        for host in hosts:
            try:
                base = url_to_node_config(host, use_default_ports_for_scheme=True)
            except ValueError as exc:
                raise ConfigError(f"elasticsearch.hosts: {host!r}: {exc}") from None
            url_headers = dict(base.headers)
            configs.append(
                base.replace(
                    headers={**headers, **url_headers},
                    request_timeout=request_timeout,
                    verify_certs=verify_certs,
                    ca_certs=ca_certs,
                    **node_options,
                )
            )
        transport_options: dict[str, Any] = {
            "max_retries": max_retries,
            "retry_on_timeout": retry_on_timeout,
        }
        transport_options.update({k: v for k, v in options.items() if k in TRANSPORT_OPTIONS})
        self._transport = Transport(
            configs,
            serializers={JSON: _OrjsonSerializer(), "text/plain": _TextSerializer()},  # type: ignore[dict-item]
            meta_header=False,
            **transport_options,
        )
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: ElasticsearchSettings, **overrides: Any) -> EngineClient:
        """A client for the `elasticsearch:` config section (auth, TLS, `client` passthrough)."""
        every = settings.client_kwargs()  # the typed keys, then the `client` passthrough
        kwargs = {k: v for k, v in every.items() if k in _CORE or k not in settings.client}
        options = {k: v for k, v in settings.client.items() if k not in _CORE}
        for key in TRANSPORT_OPTIONS & set(options):
            overrides.setdefault(key, options.pop(key))
        kwargs.update(overrides)
        return cls(options=options, **kwargs)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the one request primitive ----------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        ndjson: bool = False,
        timeout: float | None = None,
        ok: Iterable[int] = (),
    ) -> Any:
        """The decoded answer of one request; EngineApiError for a status >= 400 not in `ok`,
        EngineUnreachable when no host answers."""
        return self._perform(
            method, path, params=params, body=body, ndjson=ndjson, timeout=timeout, ok=ok
        )[1]

    def _perform(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        ndjson: bool = False,
        timeout: float | None = None,
        ok: Iterable[int] = (),
    ) -> tuple[Any, Any]:
        from elastic_transport import SerializationError, TransportError  # noqa: PLC0415

        target = path
        if params:
            query = {k: _param(v) for k, v in params.items() if v is not None}
            target += "?" + urllib.parse.urlencode(query)
        headers: dict[str, str] = {}
        if body is not None:
            headers["content-type"] = NDJSON if ndjson else JSON
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["request_timeout"] = timeout
        try:
            meta, answer = self._transport.perform_request(
                method, target, body=body, headers=headers, **extra
            )
        except SerializationError as exc:
            raise EngineApiError(method, path, 502, f"undecodable answer: {exc}") from None
        except TransportError as exc:
            raise EngineUnreachable(
                f"cannot reach the search engine at {self.url}: {type(exc).__name__}: {exc}"
            ) from None
        if meta.status >= 400 and meta.status not in ok:
            raise EngineApiError(method, path, meta.status, answer)
        return meta, answer

    # -- engine detection --------------------------------------------------------------------

    def engine(self) -> Engine:
        """The engine behind the hosts (asked once: `GET /`). UnsupportedEngineError when it
        is not one we support, EngineUnreachable when it does not answer."""
        with self._lock:
            if self._engine is None:
                engine = self._detect()
                if self.uses_api_key and not engine.api_keys:
                    raise UnsupportedEngineError(
                        f"{self.url} runs {engine.name}, which does not accept API keys: "
                        "use elasticsearch.username and password"
                    )
                self._engine = engine
            return self._engine

    def _detect(self) -> Engine:
        try:
            root, info = self._perform("GET", "/", ok=(404, 405))
            if root.status < 400:
                return identify(info, self.url)
            # No root endpoint (Elasticsearch's integ-test-zips lack its module): ask the node.
            meta, nodes = self._perform(
                "GET",
                "/_nodes/_local",
                params={"filter_path": "nodes.*.version,nodes.*.build_flavor"},
            )
        except EngineApiError as exc:
            if exc.retryable:
                raise EngineUnreachable(f"{self.url} is not ready: {exc}") from None
            if exc.status in (401, 403):
                raise FatalError(
                    f"{self.url} refused the request ({exc}): check username/password"
                    "/api_key in the `elasticsearch:` config section"
                ) from None
            raise UnsupportedEngineError(
                f"{self.url} does not answer like a search engine ({exc}); "
                f"kafka-logging supports {SUPPORTED_TEXT}"
            ) from None
        header = meta.headers.get("x-elastic-product", "") == "Elasticsearch"
        return identify_from_nodes(nodes, header, self.url)

    # -- the APIs we use ---------------------------------------------------------------------

    def bulk(self, body: bytes, *, filter_path: str | None = None) -> Any:
        return self.request(
            "POST", "/_bulk", params={"filter_path": filter_path}, body=body, ndjson=True
        )

    def put_index_template(self, name: str, body: dict[str, Any]) -> Any:
        return self.request("PUT", _path("_index_template", name), body=body)

    def get_index_template(self, name: str) -> Any:
        return self.request("GET", _path("_index_template", name))

    def delete_index_template(self, name: str, *, missing_ok: bool = True) -> None:
        self.request("DELETE", _path("_index_template", name), ok=(404,) if missing_ok else ())

    def search(
        self, index: str | None, body: dict[str, Any], *, params: Mapping[str, Any] | None = None
    ) -> Any:
        path = _path(index, "_search") if index else "/_search"
        return self.request("POST", path, params=params, body=body)

    def open_point_in_time(self, index: str, keep_alive: str) -> tuple[str, Any]:
        """(id, answer) of a new point in time on `index`, by the engine's own API."""
        engine = self.engine()
        answer = self.request(
            "POST",
            engine.pit_open_path(urllib.parse.quote(index, safe=",*-_.")),
            params={"keep_alive": keep_alive, "ignore_unavailable": "true"}
            if not engine.is_opensearch
            else {"keep_alive": keep_alive},
        )
        return engine.pit_id_of(answer), answer

    def close_point_in_time(self, pit_id: str) -> None:
        path, body = self.engine().pit_close(pit_id)
        self.request("DELETE", path, body=body, ok=(404,))

    def scan(
        self, index: str, source: bool | list[str] = False, page: int = 10_000
    ) -> Iterator[dict[str, Any]]:
        """Every hit of `index` once, in no particular order, through a point in time (where
        the engine has one; else search_after on the index itself)."""
        engine = self.engine()
        sort = [{"_shard_doc": "asc"}] if engine.product == "elasticsearch" else engine.tiebreaker
        pit_id = None
        if engine.pit_style != "none":
            pit_id, _ = self.open_point_in_time(index, "2m")
        try:
            after: list[Any] | None = None
            while True:
                body: dict[str, Any] = {"size": page, "sort": sort, "_source": source}
                body["track_total_hits"] = False
                if pit_id is not None:
                    body["pit"] = {"id": pit_id, "keep_alive": "2m"}
                if after is not None:
                    body["search_after"] = after
                hits = self.search(None if pit_id else index, body)["hits"]["hits"]
                yield from hits
                if len(hits) < page:
                    return
                after = hits[-1]["sort"]
        finally:
            if pit_id is not None:
                self.close_point_in_time(pit_id)

    def mget(self, docs: list[dict[str, str]]) -> Any:
        return self.request("POST", "/_mget", body={"docs": docs})

    def count(self, index: str) -> int:
        answer = self.request(
            "POST", _path(index, "_count"), params={"allow_no_indices": "true"}, body={}
        )
        return int(answer["count"])

    def refresh(self, index: str) -> None:
        self.request("POST", _path(index, "_refresh"), params={"allow_no_indices": "true"})

    def index_names(self, pattern: str) -> list[str]:
        """Names of the indices matching `pattern` (open or closed); [] when none."""
        answer = self.request(
            "GET",
            _path(pattern),
            params={"allow_no_indices": "true", "expand_wildcards": "all"},
            ok=(404,),
        )
        return sorted(answer) if isinstance(answer, dict) and "error" not in answer else []

    def create_index(self, name: str, body: dict[str, Any] | None = None) -> None:
        self.request("PUT", _path(name), body=body or {})

    def delete_indices(self, names: list[str]) -> None:
        self.request("DELETE", _path(",".join(names)), params={"ignore_unavailable": "true"})

    def delete_matching(self, pattern: str) -> None:
        """Delete every index matching `pattern` (tests and tools clean up this way)."""
        self.request(
            "DELETE",
            _path(pattern),
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )

    def exists(self, index: str) -> bool:
        from elastic_transport import TransportError  # noqa: PLC0415

        try:
            meta, _ = self._transport.perform_request("HEAD", _path(index))
        except TransportError as exc:
            raise EngineUnreachable(
                f"cannot reach the search engine at {self.url}: {exc}"
            ) from None
        return bool(meta.status == 200)

    def modules(self) -> list[str]:
        """The modules and plugins of every node (`GET _nodes/plugins`), sorted, unique."""
        answer = self.request("GET", "/_nodes/plugins")
        names: set[str] = set()
        for node in (answer.get("nodes") or {}).values():
            for key in ("modules", "plugins"):
                names.update(str(m.get("name")) for m in node.get(key) or ())
        return sorted(names)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def connect(settings: ElasticsearchSettings, **overrides: Any) -> EngineClient:
    """`EngineClient.from_settings`: the one way every component builds its client."""
    return EngineClient.from_settings(settings, **overrides)


__all__ = [
    "EngineApiError",
    "EngineClient",
    "EngineUnreachable",
    "UnsupportedEngineError",
    "connect",
]
