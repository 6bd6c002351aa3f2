"""The search and tail commands: option handling, error lines, interruption, config precedence."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kafka_logging.cli import main
from kafka_logging.engines import client as engine_client
from kafka_logging.search import es_search


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


class CapturingEs:
    """Stands in for EngineClient: records the client settings it is built from."""

    made: list[dict[str, Any]] = []

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> CapturingEs:
        CapturingEs.made.append({**settings.client_kwargs(), **overrides})
        return cls()

    def __enter__(self) -> CapturingEs:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def fake_es(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    CapturingEs.made = []
    monkeypatch.setattr(engine_client, "EngineClient", CapturingEs)

    def search(self: Any, filters: Any, limit: Any, newest_first: bool = True) -> Iterator[Any]:
        yield {"message": "one", "filters": repr(filters), "limit": limit, "desc": newest_first}

    monkeypatch.setattr(es_search.EsSearcher, "search", search)
    return CapturingEs.made


def test_import_kafka_logging_does_not_import_search_or_elasticsearch() -> None:
    """`import kafka_logging` stays light: the search package and the ES client are not loaded."""
    code = (
        "import sys, kafka_logging, kafka_logging.cli; "
        "print('kafka_logging.search' in sys.modules, 'elasticsearch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_commands_are_registered() -> None:
    """`kafka-logging --help` lists search and tail."""
    result = run("--help")
    assert "search" in result.output
    assert "tail" in result.output


def test_bad_since_is_a_usage_error() -> None:
    """An unparsable --since exits 2 naming the value and the accepted forms."""
    result = run("search", "--since", "yesterday")
    assert result.exit_code == 2
    assert "'yesterday' is not a time" in result.output
    assert "Traceback" not in result.output


def test_follow_with_until_is_a_usage_error() -> None:
    """--follow cannot end at --until."""
    result = run("search", "--follow", "--until", "1h")
    assert result.exit_code == 2
    assert "--follow and --until cannot be combined" in result.output


def test_since_after_until_is_a_usage_error() -> None:
    """An empty time range is refused before contacting anyone."""
    result = run("search", "--since", "1h", "--until", "2h")
    assert result.exit_code == 2
    assert "is after until" in result.output


def test_tail_unbalanced_quote_is_a_usage_error() -> None:
    """tail's QUERY with an open quote exits 2 with the reason."""
    result = run("tail", '"open', "--bootstrap-servers", "127.0.0.1:1")
    assert result.exit_code == 2
    assert "cannot parse query" in result.output


def test_query_words_are_joined_and_options_reach_the_searcher(
    fake_es: list[dict[str, Any]],
) -> None:
    """Unquoted words form one query; --limit and --reverse reach the search."""
    result = run("search", "payment", "failed", "--limit", "7", "--reverse", "--format", "ndjson")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert "query='payment failed'" in record["filters"]
    assert record["limit"] == 7
    assert record["desc"] is False


def test_elasticsearch_url_from_env(fake_es: list[dict[str, Any]]) -> None:
    """ELASTICSEARCH_URL is used when no --elasticsearch is given."""
    result = run("search", env={"ELASTICSEARCH_URL": "http://es-env:9200"})
    assert result.exit_code == 0, result.output
    assert fake_es[0]["hosts"] == ["http://es-env:9200"]


def test_config_file_auth_and_hosts_beat_env(fake_es: list[dict[str, Any]], tmp_path: Path) -> None:
    """--config's elasticsearch section (hosts, auth) wins over ELASTICSEARCH_URL; other
    sections of the file (an indexer's) are ignored."""
    config = tmp_path / "c.yaml"
    config.write_text(
        "elasticsearch:\n  hosts: [https://es-conf:9200]\n  username: u\n  password: p\n"
        "index:\n  anything: 1\n"
    )
    result = run("search", "--config", str(config), env={"ELASTICSEARCH_URL": "http://x:1"})
    assert result.exit_code == 0, result.output
    assert fake_es[0]["hosts"] == ["https://es-conf:9200"]
    assert fake_es[0]["basic_auth"] == ("u", "p")


def test_explicit_flag_beats_config_file(fake_es: list[dict[str, Any]], tmp_path: Path) -> None:
    """--elasticsearch on the command line wins over the config file's hosts, auth stays."""
    config = tmp_path / "c.yaml"
    config.write_text("elasticsearch:\n  hosts: [https://es-conf:9200]\n  api_key: k\n")
    result = run("search", "--config", str(config), "--elasticsearch", "http://flag:9200")
    assert result.exit_code == 0, result.output
    assert fake_es[0]["hosts"] == ["http://flag:9200"]
    assert fake_es[0]["api_key"] == "k"


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    """An unknown key in the elasticsearch section is one clear error, exit 1."""
    config = tmp_path / "c.yaml"
    config.write_text("elasticsearch:\n  hostz: [x]\n")
    result = run("search", "--config", str(config))
    assert result.exit_code == 1
    assert "elasticsearch.hostz: unknown key" in result.output
    assert "Traceback" not in result.output


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    """A config path that does not exist is named."""
    result = run("tail", "--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "cannot read config file" in result.output


def test_ctrl_c_exits_130_and_closes_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted: exit status 130, no traceback, and the JSON array is still complete."""
    monkeypatch.setattr(engine_client, "EngineClient", CapturingEs)

    def search(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield {"message": "one"}
        raise KeyboardInterrupt

    monkeypatch.setattr(es_search.EsSearcher, "search", search)
    result = run("search", "--format", "json")
    assert result.exit_code == 130
    assert json.loads(result.stdout) == [{"message": "one"}]


def test_search_error_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SearchError becomes `Error: <message>` and exit 1."""
    monkeypatch.setattr(engine_client, "EngineClient", CapturingEs)

    def search(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        raise es_search.NoIndexError("no indices match x yet")
        yield

    monkeypatch.setattr(es_search.EsSearcher, "search", search)
    result = run("search")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: no indices match x yet"]


def test_no_match_says_so_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Zero matches: exit 0, nothing on stdout, a hint on stderr."""
    monkeypatch.setattr(engine_client, "EngineClient", CapturingEs)
    monkeypatch.setattr(es_search.EsSearcher, "search", lambda *a, **k: iter(()))
    result = run("search", "--since", "15m")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no records match in application-logs-* since" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--index", " "], "Invalid value for '--index': must not be empty"),
        (["search", "--elasticsearch", ""], "Invalid value for '--elasticsearch': must not be"),
        (["tail", "--topic", ""], "Invalid value for '--topic': must not be empty"),
        (["tail", "--bootstrap-servers", ""], "'--bootstrap-servers': must not be empty"),
        (["search", "--since", "99999999d"], "'99999999d' is too far back"),
        (["search", "--lookback", "soon"], "'soon' is not a duration"),
    ],
)
def test_empty_or_impossible_values_are_usage_errors(args: list[str], message: str) -> None:
    """Empty names and impossible times are usage errors (exit 2), never tracebacks."""
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_invalid_librdkafka_setting_is_one_line(tmp_path: Path) -> None:
    """A librdkafka passthrough key librdkafka does not know: one line naming it, exit 1."""
    config = tmp_path / "k.yaml"
    config.write_text("kafka:\n  librdkafka:\n    no.such.setting: 1\n")
    result = run("tail", "--config", str(config))
    assert result.exit_code == 1
    assert result.output.strip() == (
        'Error: invalid Kafka client settings: No such configuration property: "no.such.setting"'
    )


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_auto_on_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto: colour on a terminal, plain on a pipe, plain when NO_COLOR is set; always/never
    override."""
    from kafka_logging.search.output import use_color

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color("auto", Tty())
    assert not use_color("auto", io.StringIO())
    assert use_color("always", io.StringIO())
    assert not use_color("never", Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color("auto", Tty())


def test_take_cuts_batches_at_the_limit() -> None:
    """tail --limit: batches pass whole until the limit, the last one is cut, then it stops."""
    from kafka_logging.search.output import take

    batches = iter([[{"n": 1}, {"n": 2}], [{"n": 3}, {"n": 4}], [{"n": 5}]])
    assert [list(b) for b in take(batches, 3)] == [[{"n": 1}, {"n": 2}], [{"n": 3}]]
    assert next(batches) == [{"n": 5}]  # not consumed past the limit
    assert [list(b) for b in take(iter([[{"n": 1}]]), None)] == [[{"n": 1}]]


def test_config_without_the_needed_section_is_an_error(tmp_path: Path) -> None:
    """A file without `elasticsearch:` (say, a typo `elasticserch:`) is refused by search, not
    silently replaced by the defaults."""
    config = tmp_path / "c.yaml"
    config.write_text("elasticserch:\n  hosts: [http://x:1]\n")
    result = run("search", "--config", str(config))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {config} has no `elasticsearch:` section"


def test_tail_since_with_from_beginning_is_a_usage_error() -> None:
    """tail --since and --from-beginning are two different starting points."""
    result = run("tail", "--since", "5m", "--from-beginning")
    assert result.exit_code == 2
    assert "--from-beginning and --since cannot be combined" in result.output


def test_bad_client_passthrough_or_url_is_one_line(tmp_path: Path) -> None:
    """An option the engine client does not know, or a URL it cannot use: one line, exit 1."""
    config = tmp_path / "c.yaml"
    config.write_text("elasticsearch:\n  client:\n    no_such_kwarg: 1\n")
    bad_option = run("search", "--config", str(config))
    bad_url = run("search", "--elasticsearch", "foo:bar")
    assert bad_option.exit_code == bad_url.exit_code == 1
    assert "unknown option(s) no_such_kwarg" in bad_option.output
    assert bad_url.output.startswith("Error: cannot use the search engine at foo:bar: ")


def test_reaching_the_limit_is_said_on_stderr(fake_es: list[dict[str, Any]]) -> None:
    """When --limit records were printed, stderr says more may match; stdout stays clean."""
    result = run("search", "--limit", "1", "--format", "ndjson")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1
    assert "stopped at --limit 1; there may be more matches" in result.stderr
