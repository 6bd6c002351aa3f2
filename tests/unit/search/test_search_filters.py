"""One definition of the filters: an Elasticsearch query and a matcher over decoded records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kafka_logging.search.filters import (
    Filters,
    canonical_level,
    field_value,
    levels_at_or_above,
    parse_tail_query,
)


def rec(
    message: str = "hello",
    level: str = "info",
    service: str = "checkout",
    host: str = "web-1",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-22T04:31:00.123456Z",
        "message": message,
        "log": {"level": level, "logger": "app.payments"},
        "service": {"name": service},
        "host": {"hostname": host},
        **extra,
    }


def test_level_threshold_includes_higher_levels_only() -> None:
    """`warning` covers warning, error and critical (and their aliases), not info or notice."""
    levels = levels_at_or_above("warning")
    assert {"warning", "warn", "error", "critical", "fatal"} <= levels
    assert not {"info", "notice", "debug", "trace"} & levels


def test_level_names_are_case_insensitive_with_aliases() -> None:
    """WARN, Warning and warn are the same threshold."""
    assert canonical_level("WARN") == canonical_level("Warning") == "warning"
    with pytest.raises(ValueError, match="unknown level 'loud'"):
        canonical_level("loud")


def test_es_query_has_query_string_with_message_default_and_and() -> None:
    """QUERY becomes a query_string on `message` with AND as the default operator."""
    query = Filters(query="payment failed").es_query()
    assert query["bool"]["must"] == [
        {
            "query_string": {
                "query": "payment failed",
                "default_field": "message",
                "default_operator": "AND",
            }
        }
    ]


def test_es_query_without_anything_matches_all() -> None:
    """No filters: an empty bool query (matches every document)."""
    assert Filters().es_query() == {"bool": {"must": [], "filter": []}}


def test_es_range_uses_iso_bounds() -> None:
    """since/until become an inclusive @timestamp range in the @timestamp format."""
    since = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    until = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    clauses = Filters(since=since, until=until).es_filter_clauses()
    assert clauses == [
        {
            "range": {
                "@timestamp": {
                    "format": "strict_date_optional_time",
                    "gte": "2026-11-22T04:00:00.000000Z",
                    "lte": "2026-11-22T05:00:00.000000Z",
                }
            }
        }
    ]


def test_es_level_is_case_insensitive_terms_of_every_spelling() -> None:
    """The level filter matches stored `WARNING` and `warning` alike (case_insensitive terms)."""
    (clause,) = Filters(level="error").es_filter_clauses()
    terms = clause["bool"]["should"]
    assert all(t["term"]["log.level"]["case_insensitive"] is True for t in terms)
    assert {t["term"]["log.level"]["value"] for t in terms} == levels_at_or_above("error")
    assert clause["bool"]["minimum_should_match"] == 1


def test_es_host_matches_hostname_or_name() -> None:
    """--host matches host.hostname or host.name."""
    (clause,) = Filters(hosts=("web-1",)).es_filter_clauses()
    fields = {next(iter(t["term"])) for t in clause["bool"]["should"]}
    assert fields == {"host.hostname", "host.name"}


def test_follow_since_overrides_range_start() -> None:
    """es_query(since=...) replaces the lower bound (used by --follow's moving window)."""
    later = datetime(2026, 11, 22, 4, 30, tzinfo=UTC)
    clauses = Filters(since=datetime(2026, 11, 21, tzinfo=UTC)).es_filter_clauses(later)
    assert clauses[0]["range"]["@timestamp"]["gte"] == "2026-11-22T04:30:00.000000Z"


def test_since_after_until_is_an_error() -> None:
    """An empty time range is a mistake worth saying."""
    with pytest.raises(ValueError, match="is after until"):
        Filters(since=datetime(2026, 1, 2, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))


def test_matcher_service_host_level() -> None:
    """The matcher applies service, host (hostname or name) and level threshold."""
    match = Filters(services=("Checkout",), hosts=("web-1",), level="warning").matcher()
    assert match(rec(level="ERROR"))
    assert not match(rec(level="info"))
    assert not match(rec(level="error", service="billing"))
    assert not match(rec(level="error", host="web-2"))
    assert match({**rec(level="warn"), "host": {"name": "web-1"}})


def test_matcher_level_filter_excludes_records_without_level() -> None:
    """A record without log.level is below any threshold."""
    assert not Filters(level="trace").matcher()({"message": "x"})


def test_matcher_time_range() -> None:
    """since/until apply to the record's @timestamp; unparsable timestamps do not match."""
    match = Filters(
        since=datetime(2026, 11, 22, 4, 0, tzinfo=UTC),
        until=datetime(2026, 11, 22, 5, 0, tzinfo=UTC),
    ).matcher()
    assert match(rec())
    assert not match({**rec(), "@timestamp": "2026-11-22T05:00:01Z"})
    assert not match({**rec(), "@timestamp": "garbage"})


def test_tail_query_words_are_case_insensitive_substrings_all_required() -> None:
    """Bare words are substrings of message, ignoring case; every word must be present."""
    match = Filters(query="PAYMENT fail").matcher()
    assert match(rec("Payment failed for order 7"))
    assert not match(rec("payment ok"))


def test_tail_query_quoted_phrase() -> None:
    """Quotes group words into one substring."""
    match = Filters(query='"disk full"').matcher()
    assert match(rec("the disk full again"))
    assert not match(rec("full disk"))


def test_tail_query_field_terms_with_wildcards() -> None:
    """field:value compares the dotted field case-insensitively; * is a wildcard."""
    match = Filters(query="log.logger:APP.* order_id:42").matcher()
    assert match(rec(order_id=42))
    assert not match(rec(order_id=43))
    assert not match(rec())


def test_tail_query_negation() -> None:
    """-term excludes records the term matches."""
    match = Filters(query="-healthcheck -labels.env:dev").matcher()
    assert match(rec("GET /orders", labels={"env": "prod"}))
    assert not match(rec("GET /healthcheck"))
    assert not match(rec("GET /orders", labels={"env": "dev"}))


def test_tail_query_list_field_matches_any_element() -> None:
    """A list field matches when any element does."""
    assert Filters(query="tags:blue").matcher()(rec(tags=["red", "Blue"]))


def test_tail_query_colon_in_plain_text_is_substring() -> None:
    """A term that is not field:value (e.g. `error:` or `:8080`) is a plain substring."""
    match = Filters(query="':8080'").matcher()
    assert match(rec("listening on :8080"))


def test_tail_query_unbalanced_quote_is_an_error() -> None:
    """A query shlex cannot split is a ValueError naming the query."""
    with pytest.raises(ValueError, match="cannot parse query"):
        parse_tail_query('"open')


def test_field_value_nested_and_flat_dotted_keys() -> None:
    """Dotted paths walk nested objects; a flat dotted key is found too."""
    record = {"user": {"id": 7}, "http.status": 500}
    assert field_value(record, "user.id") == 7
    assert field_value(record, "http.status") == 500
    assert field_value(record, "user.name") is None
    assert field_value(record, "user.id.x") is None


def test_empty_filters_match_everything() -> None:
    """No filters: every record matches."""
    assert Filters().matcher()({})
