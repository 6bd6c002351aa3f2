"""`stack up --search-engine PRODUCT:VERSION`: which zip, which layout, which Java."""

from __future__ import annotations

import pytest

from kafka_logging.stack.engines import DEFAULT_SEARCH_ENGINE, parse_engine
from kafka_logging.stack.errors import StackError


def test_default_is_elasticsearch_9() -> None:
    """The default engine stays Elasticsearch 9.2.0, on Java 21, in the old data folder."""
    dist = parse_engine(DEFAULT_SEARCH_ENGINE)
    assert (dist.product, dist.version, dist.min_java, dist.is_default) == (
        "elasticsearch",
        "9.2.0",
        21,
        True,
    )


@pytest.mark.parametrize(
    ("spec", "artifact", "java", "java_home_var"),
    [
        (
            "elasticsearch:8.19.21",
            "org.elasticsearch.distribution.integ-test-zip:elasticsearch:8.19.21:zip",
            17,
            "ES_JAVA_HOME",
        ),
        (
            "opensearch:2.19.1",
            "org.opensearch.distribution.integ-test-zip:opensearch:2.19.1:zip",
            17,
            "OPENSEARCH_JAVA_HOME",
        ),
        (
            "OpenSearch:3.3.2",
            "org.opensearch.distribution.integ-test-zip:opensearch:3.3.2:zip",
            21,
            "OPENSEARCH_JAVA_HOME",
        ),
    ],
)
def test_each_engine_has_its_artifact_java_and_variables(
    spec: str, artifact: str, java: int, java_home_var: str
) -> None:
    """Maven coordinates, minimum Java and the JAVA_HOME variable the start script reads."""
    dist = parse_engine(spec)
    assert dist.artifact == artifact
    assert dist.min_java == java
    assert dist.java_home_var == java_home_var
    assert dist.config_file == f"{dist.product}.yml"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("elasticsearch", "expected PRODUCT:VERSION"),
        ("elasticsearch:7.17.0", "elasticsearch 8.x-9.x are"),
        ("opensearch:1.3.0", "opensearch 2.x-3.x are"),
        ("solr:9.0.0", "unknown engine 'solr'"),
    ],
)
def test_unsupported_choices_are_refused_with_the_range(spec: str, message: str) -> None:
    """A malformed, unknown or out-of-range engine is one clear error."""
    with pytest.raises(StackError, match=message):
        parse_engine(spec)
