"""Kubernetes and container metadata from log file paths; service templates."""

from __future__ import annotations

import pytest

from shipper.kubernetes import PathMeta, detect_format, path_meta, placeholders, service_rule

UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CID = "ab" * 32


@pytest.mark.parametrize(
    "path",
    [
        f"/var/log/pods/shop_web-5d9c-x2x7q_{UID}/app/3.log",
        f"/var/log/pods/shop_web-5d9c-x2x7q_{UID}/app/3.log.20261202-100100",
        f"/var/log/pods/shop_web-5d9c-x2x7q_{UID}/app/3.log.20261202-100100.gz",
    ],
)
def test_pod_log_paths_give_namespace_pod_uid_container_and_restarts(path: str) -> None:
    """kubelet's layout, live and rotated: every field but the container id."""
    meta = path_meta(path)
    assert meta == PathMeta("shop", "web-5d9c-x2x7q", UID, "app", None, 3)
    assert meta.fields() == {
        "kubernetes": {
            "namespace": "shop",
            "pod": {"name": "web-5d9c-x2x7q", "uid": UID},
            "container": {"name": "app", "restart_count": 3},
        }
    }
    assert detect_format(path) == "cri"


def test_var_log_containers_symlink_names_give_the_container_id() -> None:
    """/var/log/containers/<pod>_<namespace>_<container>-<id>.log (a container name may hold
    dashes)."""
    meta = path_meta(f"/var/log/containers/web-5d9c-x2x7q_shop_side-car-{CID}.log")
    assert (meta.namespace, meta.pod, meta.container, meta.container_id) == (
        "shop",
        "web-5d9c-x2x7q",
        "side-car",
        CID,
    )
    assert meta.fields()["container"] == {"id": CID}


@pytest.mark.parametrize("suffix", ["", ".1", ".2.gz"])
def test_docker_json_file_paths_give_the_container_id(suffix: str) -> None:
    """/var/lib/docker/containers/<id>/<id>-json.log and its rotations: the id, runtime docker."""
    path = f"/var/lib/docker/containers/{CID}/{CID}-json.log{suffix}"
    assert path_meta(path).fields() == {"container": {"id": CID, "runtime": "docker"}}
    assert detect_format(path) == "docker"


def test_other_paths_say_nothing() -> None:
    """A path outside these layouts: no fields, no format (auto ships it plain)."""
    assert path_meta("/var/log/app/app.log").fields() == {}
    assert detect_format("/var/log/app/app.log") is None


def test_service_templates_render_path_parts_or_fall_back() -> None:
    """A template names path parts; a part the path lacks gives the fallback; a fixed name
    stays fixed; an unknown name is refused."""
    pod = path_meta(f"/var/log/pods/shop_web-1_{UID}/app/0.log")
    docker = path_meta(f"/var/lib/docker/containers/{CID}/{CID}-json.log")
    assert service_rule("{namespace}.{container}", "x")(pod) == "shop.app"
    assert service_rule("{namespace}.{container}", "x")(docker) == "x"
    assert service_rule("billing", "x")(docker) == "billing"
    with pytest.raises(ValueError, match=r"unknown name \{node\}"):
        placeholders("{node}")
