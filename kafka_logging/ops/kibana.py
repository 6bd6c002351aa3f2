"""Kibana: a data view for the log indices and the saved objects in deploy/kibana/.

Kibana cannot run on our build machines, so this is kept small: two documented HTTP APIs
(`POST /api/data_views/data_view`, `POST /api/saved_objects/_import?overwrite=true`), both
idempotent. The saved objects reference the data view by its fixed id.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from kafka_logging.errors import FatalError, RetryableError

DATA_VIEW_ID = "kafka-logging-application-logs"


class Kibana:
    def __init__(self, url: str, username: str | None = None, password: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._headers = {"kbn-xsrf": "kafka-logging", "Accept": "application/json"}
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
            raise FatalError(f"Kibana {method} {path} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RetryableError(f"cannot reach Kibana at {self.url}: {exc}") from None

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
                f"Kibana refused {ndjson.name}: {json.dumps(result.get('errors'))[:500]}"
            )
        count: int = result.get("successCount", 0)
        return count


def saved_object_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ndjson"))
