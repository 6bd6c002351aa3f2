"""The search engines the local stack can run, as published on Maven Central (integ-test-zips).

`--search-engine elasticsearch:9.2.0` (the default), `elasticsearch:8.19.21`,
`opensearch:2.19.1`, `opensearch:3.x.y`: the zip, its layout, its environment variables and
the Java it needs differ; everything else (single node on loopback, health) is shared.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_logging.engines.engine import SUPPORTED, Product, parse_version
from kafka_logging.stack.errors import StackError

DEFAULT_SEARCH_ENGINE = "elasticsearch:9.2.0"
# Versions this project's tests run against (any supported version may be asked for).
TESTED = ("elasticsearch:9.2.0", "elasticsearch:8.19.21", "opensearch:2.19.1")


@dataclass(frozen=True)
class Distribution:
    """One engine build: where to download it and how to start it."""

    product: Product
    version: str

    @property
    def spec(self) -> str:
        return f"{self.product}:{self.version}"

    @property
    def title(self) -> str:
        return f"{'OpenSearch' if self.product == 'opensearch' else 'Elasticsearch'} {self.version}"

    @property
    def artifact(self) -> str:
        group = "org.opensearch" if self.product == "opensearch" else "org.elasticsearch"
        return f"{group}.distribution.integ-test-zip:{self.product}:{self.version}:zip"

    @property
    def zip_name(self) -> str:
        return f"{self.product}-{self.version}.zip"

    @property
    def home_name(self) -> str:
        """The folder the zip unpacks into."""
        return f"{self.product}-{self.version}"

    @property
    def config_file(self) -> str:
        return f"{self.product}.yml"

    @property
    def java_home_var(self) -> str:
        return "OPENSEARCH_JAVA_HOME" if self.product == "opensearch" else "ES_JAVA_HOME"

    @property
    def java_opts_var(self) -> str:
        return "OPENSEARCH_JAVA_OPTS" if self.product == "opensearch" else "ES_JAVA_OPTS"

    @property
    def min_java(self) -> int:
        """Elasticsearch 9 and OpenSearch 3 need Java 21; the older lines run on 17."""
        major = parse_version(self.version)[0]
        if (self.product, major) in (("elasticsearch", 9), ("opensearch", 3)):
            return 21
        return 17

    @property
    def is_default(self) -> bool:
        return self.spec == DEFAULT_SEARCH_ENGINE


def parse_engine(spec: str) -> Distribution:
    """'opensearch:2.19.1' -> Distribution; StackError naming the supported range otherwise."""
    product, sep, version = spec.strip().lower().partition(":")
    if not sep or not version:
        raise StackError(
            f"--search-engine {spec!r}: expected PRODUCT:VERSION, "
            f"e.g. {DEFAULT_SEARCH_ENGINE} or opensearch:2.19.1"
        )
    for name, low, high in SUPPORTED:
        if name == product:
            if not low <= parse_version(version) < high:
                raise StackError(
                    f"--search-engine {spec!r}: {product} {version} is not supported "
                    f"({product} {low[0]}.x-{high[0] - 1}.x are)"
                )
            return Distribution(name, version)
    raise StackError(
        f"--search-engine {spec!r}: unknown engine {product!r} (elasticsearch or opensearch)"
    )
