"""The shipper's configuration: one strict model, built once from YAML (+ env overrides).

Reference (every key, with defaults) is the commented example in deploy/shipper.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kafka_logging.config import KafkaSettings, MetricsSettings, StrictModel, load
from shipper.kubernetes import placeholders

OnCorrupt = Literal["fail", "start-from-end", "start-from-beginning"]


class ParserConfig(StrictModel):
    """How a line (or multiline event) becomes fields.

    text: the line is the message. json: a JSON object per line, its fields merged into the
    record (dotted keys such as "log.level" become nested objects); invalid JSON is shipped as
    text with log.flags ["parse_error"]. regex: named groups become fields; a group name uses
    "__" for nesting (`(?P<log__level>\\w+)` -> log.level); a line that does not match is shipped
    as text with the parse_error flag.
    """

    type: Literal["text", "json", "regex"] = "text"
    # json: how a line that is not a JSON object is shipped. flag: as text flagged parse_error.
    # text: as text, unflagged, when it does not start with "{" (containers mix an app's JSON
    # with what else the process prints, such as a traceback on stderr).
    non_json: Literal["flag", "text"] = "flag"
    # json: the field names of python-json-logger's JsonFormatter (LogRecord attribute names)
    # renamed to the ECS fields KafkaHandler writes (levelname -> log.level, exc_info ->
    # error.*, ...); see shipper/parsers.py.
    preset: Literal["python-json-logger"] | None = None
    pattern: str | None = None
    timestamp_field: str | None = None
    timestamp_format: str | None = None  # strptime format; None = ISO 8601
    # Keep the parsed timestamp field beside @timestamp (by default it becomes @timestamp and
    # is not kept as a second copy; an unreadable one always stays, flagged).
    keep_timestamp_field: bool = False

    @model_validator(mode="after")
    def _pattern_for_regex(self) -> ParserConfig:
        if self.type == "regex":
            if not self.pattern:
                raise ValueError("parser.type regex needs parser.pattern")
            try:
                compiled = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"parser.pattern is not a valid regex: {exc}") from None
            if not compiled.groupindex:
                raise ValueError("parser.pattern has no named groups (?P<name>...)")
        elif self.pattern is not None:
            raise ValueError("parser.pattern is only used with parser.type regex")
        if self.type != "json" and (self.preset is not None or self.non_json != "flag"):
            raise ValueError("parser.preset and parser.non_json are only used with type json")
        return self


class MultilineConfig(StrictModel):
    """Joins lines into one event like Filebeat's multiline: pattern/negate/match, or a preset."""

    preset: Literal["python", "java"] | None = None
    pattern: str | None = None
    negate: bool = False
    match: Literal["after", "before"] = "after"
    max_lines: int = Field(default=500, ge=1)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    flush_timeout_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _one_rule(self) -> MultilineConfig:
        if (self.preset is None) == (self.pattern is None):
            raise ValueError("multiline needs exactly one of preset or pattern")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"multiline.pattern is not a valid regex: {exc}") from None
        return self


class ContainerConfig(StrictModel):
    """Container log formats (input `format` cri | docker | auto; see shipper/container.py)."""

    # A partial line (CRI "P" pieces, Docker pieces without "\n") whose end has not come after
    # this long ships as it is, flagged "partial" (a container that exited mid-line).
    partial_flush_seconds: float = Field(default=5.0, gt=0)
    metadata: bool = True  # kubernetes.* and container.* fields from the file's path
    # service.name when `service` names something the path does not give (e.g. {namespace}
    # for a Docker json-file path)
    service_fallback: str = "unknown"
    # true: a service.name in the app's own JSON wins over the input's service rule (which
    # then only names the records that carry none)
    service_from_app: bool = False


class InputConfig(StrictModel):
    """A set of files shipped with the same service, dataset, labels, parser and multiline."""

    name: str | None = None  # stable name in checkpoints; default "input-<index>"
    paths: list[str] = Field(min_length=1)  # globs; "**" matches any number of directories
    exclude: list[str] = Field(default_factory=list)  # fnmatch on the full path ("*" crosses "/")
    # service.name. With a container format it may name parts of the path (shipper/kubernetes.py):
    # "{container}", "{namespace}/{container}" (so may dataset); otherwise used as it is.
    service: str
    dataset: str | None = None  # default "<service>.log"
    # The runtime's envelope around each line, decoded before multiline and the parser:
    # plain (none), cri (containerd, CRI-O), docker (json-file), auto (by path: /var/log/pods,
    # /var/log/containers -> cri; /var/lib/docker/containers -> docker; other paths plain).
    format: Literal["plain", "cri", "docker", "auto"] = "plain"
    container: ContainerConfig = Field(default_factory=ContainerConfig)
    labels: dict[str, str] = Field(default_factory=dict)
    parser: ParserConfig = Field(default_factory=ParserConfig)
    multiline: MultilineConfig | None = None
    start_at: Literal["beginning", "end"] = "beginning"  # files present at the very first start

    @field_validator("paths")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not Path(path).is_absolute():
                raise ValueError(f"path {path!r} must be absolute")
        return paths

    @model_validator(mode="after")
    def _container_settings(self) -> InputConfig:
        if self.format == "plain":
            if self.container != ContainerConfig():
                raise ValueError("container settings need format cri, docker or auto")
        else:  # service and dataset may name path parts: ValueError naming an unknown {name}
            placeholders(self.service)
            if self.dataset is not None:
                placeholders(self.dataset)
        return self


class OutputConfig(StrictModel):
    topic: str = "application-logs"
    key: str | None = "service.name"  # dotted record field used as the Kafka key; null = no key
    delivery_timeout_seconds: float = Field(default=120.0, gt=0)  # then re-read from the file
    retry_backoff_seconds: float = Field(default=1.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=30.0, gt=0)
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    linger_ms: int = Field(default=20, ge=0)
    # Producer processes (0: the shipper's own process produces; see shipper/producer_pool.py)
    workers: int = Field(default=0, ge=0, le=16)


class LimitsConfig(StrictModel):
    max_line_bytes: int = Field(default=1024 * 1024, ge=16)
    long_lines: Literal["split", "truncate"] = "split"
    partial_line_timeout_seconds: float | None = Field(default=None, gt=0)  # None: wait for "\n"
    max_in_flight_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024)
    read_chunk_bytes: int = Field(default=256 * 1024, ge=4096)
    max_open_files: int = Field(default=128, ge=4)
    idle_close_seconds: float = Field(default=30.0, gt=0)
    deleted_file_hold_seconds: float = Field(default=300.0, ge=0)
    fingerprint_bytes: int = Field(default=1024, ge=16, le=1024 * 1024)
    scan_interval_seconds: float = Field(default=1.0, gt=0)
    poll_interval_seconds: float = Field(default=0.2, gt=0)
    shutdown_timeout_seconds: float = Field(default=10.0, ge=0)
    copy_wait_seconds: float = Field(default=5.0, ge=0)  # unused (issue 14); still accepted


class CheckpointConfig(StrictModel):
    path: str = "/var/lib/kafka-logging/shipper/checkpoint.json"
    interval_seconds: float = Field(default=1.0, gt=0)
    on_corrupt: OnCorrupt = "fail"


class MetricsConfig(MetricsSettings):
    """`enabled`, `host`, `port`: the same keys and meaning as the indexer's metrics."""

    port: int = Field(default=9464, ge=0, le=65535)


class ShipperConfig(StrictModel):
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    output: OutputConfig = Field(default_factory=OutputConfig)
    inputs: list[InputConfig] = Field(min_length=1)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    hostname: str | None = None  # default: socket.gethostname()

    @model_validator(mode="after")
    def _unique_input_names(self) -> ShipperConfig:
        names = input_names(self)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"input names must be unique: {', '.join(dupes)}")
        return self


def input_names(config: ShipperConfig) -> list[str]:
    return [i.name or f"input-{n}" for n, i in enumerate(config.inputs)]


def load_config(path: str | Path) -> ShipperConfig:
    """The shipper config in `path`; ConfigError naming every bad field."""
    return load(path, ShipperConfig)
