"""Kibana (Elasticsearch) or OpenSearch Dashboards (OpenSearch): an index pattern for the log
indices and the saved objects in deploy/kibana/.

Neither UI can run on our build machines, so this is kept small: two documented, idempotent
HTTP APIs each. Kibana: `POST /api/data_views/data_view` (header `kbn-xsrf`) and
`POST /api/saved_objects/_import?overwrite=true`. OpenSearch Dashboards (a fork of Kibana
7.10, which predates data views): `POST /api/saved_objects/index-pattern/<id>?overwrite=true`
and the same import (header `osd-xsrf`). The saved objects are in the 7.10 format both
import, and reference the data view / index pattern by its fixed id.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafka_logging.errors import FatalError, RetryableError

if TYPE_CHECKING:
    from kafka_logging.engines.engine import Engine

DATA_VIEW_ID = "kafka-logging-application-logs"


class Kibana:
    name = "kibana"
    view_kind = "data view"
    xsrf_header = "kbn-xsrf"

    def __init__(self, url: str, username: str | None = None, password: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._headers = {self.xsrf_header: "kafka-logging", "Accept": "application/json"}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"

    def _request(self, method: str, path: str, body: bytes | None, content_type: str) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the operator's own Kibana URL
            self.url + path,
            data=body,
            method=method,
            headers={**self._headers, "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise FatalError(f"{self.name} {method} {path} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RetryableError(f"cannot reach {self.name} at {self.url}: {exc}") from None

    def ensure_data_view(self, pattern: str) -> str:
        """Create or overwrite the data view for `pattern` with `@timestamp` as time field."""
        body = {
            "data_view": {
                "id": DATA_VIEW_ID,
                "title": pattern,
                "name": "Application logs",
                "timeFieldName": "@timestamp",
            },
            "override": True,
        }
        self._request(
            "POST", "/api/data_views/data_view", json.dumps(body).encode(), "application/json"
        )
        return DATA_VIEW_ID

    def import_saved_objects(self, ndjson: Path) -> int:
        """Import (overwriting) the saved objects of one .ndjson file; how many succeeded."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{ndjson.name}"\r\n'
                "Content-Type: application/ndjson\r\n\r\n"
            ).encode()
            + ndjson.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        result = self._request(
            "POST",
            "/api/saved_objects/_import?overwrite=true",
            body,
            f"multipart/form-data; boundary={boundary}",
        )
        if not result.get("success", False):
            raise FatalError(
                f"{self.name} refused {ndjson.name}: {json.dumps(result.get('errors'))[:500]}"
            )
        count: int = result.get("successCount", 0)
        return count


class Dashboards(Kibana):
    """OpenSearch Dashboards: index patterns are saved objects; the import API is Kibana's."""

    name = "opensearch dashboards"
    view_kind = "index pattern"
    xsrf_header = "osd-xsrf"

    def ensure_data_view(self, pattern: str) -> str:
        """Create or overwrite the index pattern for `pattern`, time field `@timestamp`."""
        body = {"attributes": {"title": pattern, "timeFieldName": "@timestamp"}}
        self._request(
            "POST",
            f"/api/saved_objects/index-pattern/{DATA_VIEW_ID}?overwrite=true",
            json.dumps(body).encode(),
            "application/json",
        )
        return DATA_VIEW_ID


def for_engine(
    engine: Engine, url: str, username: str | None = None, password: str | None = None
) -> Kibana:
    """The UI client that goes with `engine`."""
    cls = Dashboards if engine.is_opensearch else Kibana
    return cls(url, username, password)


def saved_object_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ndjson"))
