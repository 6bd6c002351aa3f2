"""Kubernetes and container metadata from a log file's path alone (no API access).

- ``/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`` (kubelet; rotated as
  ``<restart>.log.<YYYYMMDD-HHMMSS>`` and later ``….gz``): namespace, pod name and uid,
  container name, restart count.
- ``/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`` (kubelet's
  symlinks): namespace, pod name, container name, container id.
- ``/var/lib/docker/containers/<id>/<id>-json.log`` (and rotations ``.1``, ``.2`` …):
  container id.

Namespace and pod names are DNS names (no "_"), which is what makes the names splittable.
The fields land as ECS/Filebeat write them: ``kubernetes.namespace``,
``kubernetes.pod.name``, ``kubernetes.pod.uid``, ``kubernetes.container.name``,
``kubernetes.container.restart_count``, ``container.id``, ``container.runtime``.

`service_rule(template)` renders an input's ``service`` for one file: a template naming these
parts (``{namespace}``, ``{pod}``, ``{container}``, …) or a fixed name.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

_PODS = re.compile(
    r"/pods/(?P<namespace>[^/_]+)_(?P<pod>[^/_]+)_(?P<uid>[^/_]+)/(?P<container>[^/]+)/"
    r"(?P<restart>\d+)\.log(?:\.\d{8}-\d{6}(?:\.gz|\.tmp)?)?$"
)
_CONTAINERS = re.compile(
    r"/containers/(?P<pod>[^/_]+)_(?P<namespace>[^/_]+)_(?P<container>[^/]+)-"
    r"(?P<id>[0-9a-f]{64})\.log$"
)
_DOCKER = re.compile(r"/containers/(?P<id>[0-9a-f]{64})/(?P=id)-json\.log(?:\.\d+(?:\.gz)?)?$")

# Names a service template may use, and the metadata each one reads.
PLACEHOLDERS = ("namespace", "pod", "pod_uid", "container", "container_id", "restart")


@dataclass(frozen=True, slots=True)
class PathMeta:
    namespace: str | None = None
    pod: str | None = None
    pod_uid: str | None = None
    container: str | None = None
    container_id: str | None = None
    restart: int | None = None
    runtime: str | None = None  # "docker" when the path says so

    def fields(self) -> dict[str, Any]:
        """The record fields (nested), only those the path gave."""
        out: dict[str, Any] = {}
        kube: dict[str, Any] = {}
        if self.namespace is not None:
            kube["namespace"] = self.namespace
        pod = {k: v for k, v in (("name", self.pod), ("uid", self.pod_uid)) if v is not None}
        if pod:
            kube["pod"] = pod
        container: dict[str, Any] = {}
        if self.container is not None:
            container["name"] = self.container
        if self.restart is not None:
            container["restart_count"] = self.restart
        if container:
            kube["container"] = container
        if kube:
            out["kubernetes"] = kube
        own: dict[str, Any] = {}
        if self.container_id is not None:
            own["id"] = self.container_id
        if self.runtime is not None:
            own["runtime"] = self.runtime
        if own:
            out["container"] = own
        return out

    def values(self) -> dict[str, str]:
        """Template values: every placeholder the path gave, as text."""
        raw = {
            "namespace": self.namespace,
            "pod": self.pod,
            "pod_uid": self.pod_uid,
            "container": self.container,
            "container_id": self.container_id,
            "restart": None if self.restart is None else str(self.restart),
        }
        return {k: v for k, v in raw.items() if v is not None}


def path_meta(path: str) -> PathMeta:
    """What the path says about the pod and container (empty when it says nothing)."""
    found = _PODS.search(path)
    if found is not None:
        return PathMeta(
            namespace=found["namespace"],
            pod=found["pod"],
            pod_uid=found["uid"],
            container=found["container"],
            restart=int(found["restart"]),
        )
    found = _CONTAINERS.search(path)
    if found is not None:
        return PathMeta(
            namespace=found["namespace"],
            pod=found["pod"],
            container=found["container"],
            container_id=found["id"],
        )
    found = _DOCKER.search(path)
    if found is not None:
        return PathMeta(container_id=found["id"], runtime="docker")
    return PathMeta()


def detect_format(path: str) -> Literal["cri", "docker"] | None:
    """The container format a path implies ("cri" or "docker"), None for other paths."""
    if _PODS.search(path) is not None or _CONTAINERS.search(path) is not None:
        return "cri"
    if _DOCKER.search(path) is not None:
        return "docker"
    return None


def placeholders(template: str) -> list[str]:
    """The {names} a service template uses; ValueError for a malformed template."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"service template {template!r}: {exc}") from None
    names = [name for _text, name, _spec, _conv in parsed if name is not None]
    for name in names:
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"service template {template!r}: unknown name {{{name}}} "
                f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
            )
    return names


def service_rule(template: str, fallback: str) -> Callable[[PathMeta], str]:
    """service.name for a file: `template` rendered with its path's metadata; `fallback`
    when the path lacks a name the template uses (e.g. {namespace} on a Docker path)."""
    names = placeholders(template)
    if not names:
        return lambda _meta: template

    def render(meta: PathMeta) -> str:
        values = meta.values()
        if any(name not in values for name in names):
            return fallback
        return template.format(**values)

    return render
