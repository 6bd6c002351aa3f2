"""deploy/ recipes parse, call real commands with real options, and set real config keys."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from pydantic import BaseModel

from kafka_logging.cli import COMMANDS, main
from kafka_logging.config import ENV_PREFIX

DEPLOY = Path(__file__).parents[3] / "deploy"
CONFIG_MODELS = {
    "index": "indexer.config:IndexerConfig",
    "setup": "indexer.config:IndexerConfig",
    "ship": "shipper.config:ShipperConfig",
}


def _model(command: str) -> type[BaseModel]:
    import importlib

    module, name = CONFIG_MODELS[command].split(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


class _ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's merge tags (`!override`, `!reset`), used by the override files."""


def _untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in ("!override", "!reset"):
    _ComposeLoader.add_constructor(_tag, _untagged)


def _yaml_documents() -> list[tuple[Path, Any]]:
    docs = []
    for path in sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml")):
        loaded = yaml.load_all(path.read_text(), Loader=_ComposeLoader)
        docs.extend((path, doc) for doc in loaded if doc is not None)
    return docs


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _invocations() -> list[tuple[str, list[str]]]:
    """Every kafka-logging command line in compose files, manifests and systemd units."""
    found: list[tuple[str, list[str]]] = []
    for path, doc in _yaml_documents():
        for node in _walk(doc):
            if isinstance(node, dict):
                for key in ("command", "args"):
                    argv = node.get(key)
                    if isinstance(argv, list) and argv and argv[0] in COMMANDS:
                        found.append((str(path), [str(a) for a in argv]))
    for unit in DEPLOY.rglob("*.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(unit)
        argv = shlex.split(parser["Service"]["ExecStart"])
        assert argv[0].endswith("kafka-logging"), unit
        found.append((str(unit), argv[1:]))
    return found


def _env_overrides() -> list[tuple[str, str, str]]:
    """(file, command, variable) for every KAFKA_LOGGING__ variable given to a command."""
    found = []
    for path, doc in _yaml_documents():
        for node in _walk(doc):
            if not isinstance(node, dict):
                continue
            argv = node.get("command") or node.get("args")
            if not (isinstance(argv, list) and argv and argv[0] in COMMANDS):
                continue
            env = node.get("environment") or node.get("env") or {}
            names = [e["name"] for e in env] if isinstance(env, list) else list(env)
            found.extend((str(path), argv[0], n) for n in names if n.startswith(ENV_PREFIX))
    return found


def test_every_yaml_file_parses() -> None:
    """Compose files, manifests and example configs are valid YAML."""
    assert len(_yaml_documents()) >= 5


def test_recipes_call_registered_commands_with_existing_options() -> None:
    """Each kafka-logging invocation names a real subcommand and only options it has."""
    invocations = _invocations()
    assert {argv[0] for _, argv in invocations} >= {"index", "ship", "setup"}
    for where, argv in invocations:
        command = main.get_command(click.Context(main), argv[0])
        assert command is not None, f"{where}: no command {argv[0]}"
        known = {opt for p in command.params for opt in p.opts}
        used = {a.split("=")[0] for a in argv[1:] if a.startswith("--")}
        assert used <= known, f"{where}: {argv[0]} has no option {used - known}"


def test_env_overrides_name_real_config_keys() -> None:
    """KAFKA_LOGGING__SECTION__KEY variables point at fields the command's config has."""
    overrides = _env_overrides()
    assert overrides
    for where, command, name in overrides:
        model: type[BaseModel] = _model(command)
        path = name[len(ENV_PREFIX) :].lower().split("__")
        for part in path:
            assert part in model.model_fields, f"{where}: {name}: no key {part}"
            annotation = model.model_fields[part].annotation
            model = annotation if isinstance(annotation, type) else BaseModel


@pytest.mark.parametrize("command", ["index", "ship"])
def test_example_config_loads_with_its_model(command: str) -> None:
    """deploy/indexer.yaml and deploy/shipper.yaml validate against the daemons' config models."""
    from kafka_logging.config import load

    name = {"index": "indexer.yaml", "ship": "shipper.yaml"}[command]
    load(DEPLOY / name, _model(command), environ={})


def test_compose_mounts_the_example_configs_the_image_ships() -> None:
    """The image copies deploy/indexer.yaml and shipper.yaml to where the commands read them."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY deploy/indexer.yaml deploy/shipper.yaml /etc/kafka-logging/" in dockerfile
    configs = {argv[argv.index("--config") + 1] for _, argv in _invocations() if "--config" in argv}
    assert configs <= {"/etc/kafka-logging/indexer.yaml", "/etc/kafka-logging/shipper.yaml"}


def test_configs_inside_kubernetes_configmaps_load_with_their_models() -> None:
    """The daemon configs embedded in ConfigMaps validate, with their ${VARS} supplied."""
    from kafka_logging.config import parse

    found = 0
    for _path, doc in _yaml_documents():
        if not (isinstance(doc, dict) and doc.get("kind") == "ConfigMap"):
            continue
        for key, text in doc.get("data", {}).items():
            command = {"indexer.yaml": "index", "shipper.yaml": "ship"}.get(key)
            if command is not None:
                parse(yaml.safe_load(text), _model(command), key, environ={"ES_PASSWORD": "x"})
                found += 1
    assert found >= 2
