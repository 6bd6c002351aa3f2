"""`kafka-logging search` against the real Elasticsearch, on a corpus of every kind of record."""

from __future__ import annotations

import json
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from search_helpers import KAFKA_LOGGING, Corpus, iso

from kafka_logging.cli import main
from kafka_logging.search.filters import levels_at_or_above

pytestmark = pytest.mark.timeout(120)


def search(es_url: str, corpus: Corpus, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["search", "--elasticsearch", es_url, "--index", corpus.pattern, *args]
    )


def ndjson(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def times(records: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(r["@timestamp"]) for r in records]


def test_default_is_newest_first_limited_to_100(es_url: str, corpus: Corpus) -> None:
    """No options: the 100 newest records of the last 24h, newest first."""
    records = ndjson(search(es_url, corpus, "--format", "ndjson"))
    assert len(records) == 100
    assert times(records) == sorted(times(records), reverse=True)
    assert records[0]["message"] == "out of memory"


def test_paging_across_pages_without_gaps_or_repeats(es_url: str, corpus: Corpus) -> None:
    """--limit 5000 pages through the point in time (pages of 1000, ties at equal
    timestamps): every record of the last 24h exactly once, in order."""
    records = ndjson(search(es_url, corpus, "--limit", "5000", "--format", "ndjson"))
    got = [r["event"]["id"] for r in records]
    recent = corpus.ids(lambda r: r["message"] != "an old record")
    assert len(got) == len(set(got)) == len(recent) > 1000
    assert set(got) == recent
    assert times(records) == sorted(times(records), reverse=True)


def test_limit_inside_second_page(es_url: str, corpus: Corpus) -> None:
    """A limit that ends inside the second page prints exactly that many."""
    records = ndjson(search(es_url, corpus, "-n", "1001", "--format", "ndjson"))
    assert len({r["event"]["id"] for r in records}) == 1001


def test_reverse_is_oldest_first(es_url: str, corpus: Corpus) -> None:
    """--reverse starts at the oldest record in the range."""
    records = ndjson(search(es_url, corpus, "--reverse", "-n", "5", "--format", "ndjson"))
    assert times(records) == sorted(times(records))
    assert records[0]["message"].startswith("GET /orders/")


def test_service_filter(es_url: str, corpus: Corpus) -> None:
    """--service keeps only that service."""
    records = ndjson(search(es_url, corpus, "--service", "billing", "--format", "ndjson"))
    assert {r["service"]["name"] for r in records} == {"billing"}
    assert len(records) == 4


def test_level_threshold_matches_any_case(es_url: str, corpus: Corpus) -> None:
    """--level warning: WARNING, warn, error and CRITICAL, not info or debug."""
    records = ndjson(search(es_url, corpus, "--level", "warning", "--format", "ndjson"))
    levels = sorted(r["log"]["level"] for r in records)
    assert levels == ["CRITICAL", "WARNING", "error", "warn"]
    assert all(level.lower() in levels_at_or_above("warning") for level in levels)


def test_host_filter(es_url: str, corpus: Corpus) -> None:
    """--host matches host.hostname; several --host values are ORed."""
    records = ndjson(
        search(es_url, corpus, "--host", "db-1", "--host", "DB-9", "--format", "ndjson")
    )
    assert {r["host"]["hostname"] for r in records} == {"db-1"}
    assert len(records) == 3


def test_lucene_query_words_are_anded(es_url: str, corpus: Corpus) -> None:
    """QUERY words must all occur in the message (AND default operator on `message`)."""
    records = ndjson(search(es_url, corpus, "payment", "failed", "--format", "ndjson"))
    assert [r["message"] for r in records] == ["payment failed for order 42"]
    assert ndjson(search(es_url, corpus, "payment", "succeeded", "--format", "ndjson")) == []


def test_lucene_field_queries(es_url: str, corpus: Corpus) -> None:
    """Field queries reach ECS and extra fields: error.type, order_id, boolean operators."""
    by_error = ndjson(search(es_url, corpus, "error.type:ValueError", "--format", "ndjson"))
    by_extra = ndjson(search(es_url, corpus, "order_id:42", "--format", "ndjson"))
    combined = ndjson(
        search(es_url, corpus, "service.name:billing AND NOT disk", "--format", "ndjson")
    )
    assert [r["message"] for r in by_error] == ["payment failed for order 42"]
    assert by_extra == by_error
    assert len(combined) == 3


def test_time_ranges(es_url: str, corpus: Corpus) -> None:
    """--since/--until with durations and ISO times select the right records."""
    old = ndjson(search(es_url, corpus, "--since", "4d", "--until", "2d", "--format", "ndjson"))
    assert [r["message"] for r in old] == ["an old record"]
    recent = ndjson(search(es_url, corpus, "--since", "150s", "--format", "ndjson"))
    assert sorted(r["message"] for r in recent) == ["out of memory", "payment failed for order 42"]
    start = iso(corpus.now - timedelta(minutes=5, seconds=1))
    end = iso(corpus.now - timedelta(minutes=3, seconds=59))
    window = ndjson(search(es_url, corpus, "--since", start, "--until", end, "--format", "ndjson"))
    assert sorted(r["message"] for r in window) == ["disk almost full", "slow query"]
    everything = ndjson(
        search(es_url, corpus, "--since", "all", "-n", "5000", "--format", "ndjson")
    )
    assert len(everything) == len(corpus.records)


def test_json_format_is_one_array(es_url: str, corpus: Corpus) -> None:
    """--format json prints one JSON array of the stored records."""
    result = search(es_url, corpus, "--service", "billing", "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert isinstance(records, list)
    assert len(records) == 4
    assert records[0]["log"]["level"] == "CRITICAL"


def test_text_format_and_verbose(es_url: str, corpus: Corpus) -> None:
    """Text shows time, level, service, host, message and extras; --verbose adds the stack
    trace and all fields."""
    plain = search(es_url, corpus, "order_id:42")
    assert plain.exit_code == 0, plain.output
    line = plain.stdout.splitlines()[0]
    for part in ("ERROR", "checkout", "web-1", "checkout.app:", "payment failed for order 42"):
        assert part in line
    assert "[ValueError: card declined]" in line
    assert "order_id=42" in line
    assert "labels.env=prod" in line
    assert "Traceback" not in plain.stdout
    verbose = search(es_url, corpus, "order_id:42", "--verbose").stdout
    assert "    Traceback (most recent call last):" in verbose.splitlines()
    assert "    user.id: u-7" in verbose.splitlines()
    assert "event.id:" in verbose


def test_piped_output_has_no_colour(es_url: str, corpus: Corpus) -> None:
    """The installed command, piped, prints plain text; --color always forces colour."""
    base = [KAFKA_LOGGING, "search", "--elasticsearch", es_url, "--index", corpus.pattern]
    plain = subprocess.run(
        [*base, "-n", "3"], capture_output=True, text=True, timeout=60, check=False
    )
    forced = subprocess.run(
        [*base, "-n", "3", "--color", "always"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert plain.returncode == forced.returncode == 0, plain.stderr
    assert len(plain.stdout.splitlines()) == 3
    assert "\x1b[" not in plain.stdout
    assert "\x1b[" in forced.stdout


def test_malformed_query_is_one_line_naming_query_and_reason(es_url: str, corpus: Corpus) -> None:
    """A query Lucene cannot parse: exit 1, one line with the query and ES's reason."""
    result = search(es_url, corpus, "payment AND (")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: Elasticsearch cannot run the query 'payment AND (': ")
    assert "line 1, column" in lines[0]


def test_no_index_yet(es_url: str) -> None:
    """A pattern that matches nothing says so and points at the indexer."""
    result = CliRunner().invoke(
        main, ["search", "--elasticsearch", es_url, "--index", "test-search-none-zz-*"]
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: no indices match test-search-none-zz-* at {es_url} yet -- is the indexer running?"
    )


def test_elasticsearch_down_names_the_url() -> None:
    """Nothing listening: exit 1 with one line naming the URL, no traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = subprocess.run(
        [KAFKA_LOGGING, "search", "--elasticsearch", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: cannot reach the search engine at {url}: ")


def test_config_file_elasticsearch_section(es_url: str, corpus: Corpus, tmp_path: Any) -> None:
    """--config's `elasticsearch:` section (hosts, request_timeout) is used against the real
    node and wins over ELASTICSEARCH_URL; the file's other sections are ignored."""
    config = tmp_path / "search.yaml"
    config.write_text(
        f"elasticsearch:\n  hosts: [{es_url}]\n  request_timeout: 20\n"
        "kafka:\n  bootstrap_servers: 127.0.0.1:1\nindex:\n  whatever: true\n"
    )
    result = CliRunner().invoke(
        main,
        ["search", "--config", str(config), "--index", corpus.pattern, "-n", "2", "--format",
         "ndjson"],
        env={"ELASTICSEARCH_URL": "http://127.0.0.1:1"},
    )  # fmt: skip
    assert len(ndjson(result)) == 2


def test_elasticsearch_that_never_answers_times_out_clearly() -> None:
    """A port that accepts connections but never answers (a hung node): after --timeout,
    exit 1 with one line naming the URL -- not a hang."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes handshakes; nobody ever reads or answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = subprocess.run(
            [KAFKA_LOGGING, "search", "--elasticsearch", url, "--timeout", "1"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Error: cannot reach the search engine at {url}: ")


def test_terminal_output_is_coloured(es_url: str, corpus: Corpus) -> None:
    """On a terminal (a pty) the installed command colours its text by default."""
    import os
    import pty

    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [KAFKA_LOGGING, "search", "--elasticsearch", es_url, "--index", corpus.pattern,
             "-n", "2"],
            stdout=secondary, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": ""},
        )  # fmt: skip
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0
    finally:
        os.close(primary)
    output = b"".join(chunks).decode()
    assert "\x1b[" in output
    assert "out of memory" in output


def test_search_on_indices_made_by_the_indexer_template(
    es_url: str, index: str, engine_client: Any
) -> None:
    """The contract with the indexer: on daily indices mapped by indexer/template.py, every
    filter and field query finds what it should."""
    from search_helpers import build_records, daily, index_docs

    from indexer.config import IndexSettings
    from indexer.template import build_template

    settings = IndexSettings(pattern=f"{index}-%Y.%m.%d", template_name=index, replicas=0)
    now = datetime.now(UTC).replace(microsecond=0)
    records = build_records(now)
    engine_client.put_index_template(index, build_template(settings))
    try:
        index_docs(
            engine_client,
            [(daily(index, datetime.fromisoformat(r["@timestamp"])), r) for r in records],
        )
        expected = {
            ("payment failed",): 1,
            ("order_id:42",): 1,
            ("user.id:u-7",): 1,
            ("labels.env:prod",): 1,
            ("error.type:ValueError",): 1,
            ("--level", "warning"): 4,
            ("--service", "BILLING"): 4,
            ("--host", "db-1"): 3,
            ("--since", "all", "-n", "5000"): len(records),
        }
        for args, count in expected.items():
            result = CliRunner().invoke(
                main,
                ["search", "--elasticsearch", es_url, "--index", f"{index}-*",
                 "--format", "ndjson", *args],
            )  # fmt: skip
            assert result.exit_code == 0, (args, result.output)
            assert len(result.stdout.splitlines()) == count, args
    finally:
        engine_client.delete_index_template(index)
