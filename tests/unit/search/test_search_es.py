"""EsSearcher against a fake client: paging, order, limits, errors, --follow de-duplication."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kafka_logging.engines.client import EngineApiError, EngineUnreachable
from kafka_logging.engines.engine import Engine
from kafka_logging.search.es_search import (
    EsSearcher,
    NoIndexError,
    SearchError,
    UnreachableError,
)
from kafka_logging.search.filters import Filters

T0 = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
ES9 = Engine("elasticsearch", "9.2.0")
OS2 = Engine("opensearch", "2.19.1")


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def api_error(status: int, body: Any) -> EngineApiError:
    return EngineApiError("POST", "/_search", status, body)


def unreachable(detail: str) -> EngineUnreachable:
    return EngineUnreachable(f"cannot reach the search engine at http://127.0.0.1:1: {detail}")


class FakeEs:
    """Documents (index, id, @timestamp) sorted like Elasticsearch with a PIT: by time, then doc."""

    def __init__(
        self,
        docs: list[tuple[str, str, datetime]] | None = None,
        engine: Engine = ES9,
    ) -> None:
        self._engine = engine
        self.docs = list(docs or [])
        self.searches: list[dict[str, Any]] = []
        self.open_pits: set[str] = set()
        self.closed: list[str] = []
        self.shards = 1
        self.fail: Exception | None = None
        self.mgets: list[list[dict[str, str]]] = []

    def add(self, index: str, doc_id: str, moment: datetime) -> None:
        self.docs.append((index, doc_id, moment))

    def engine(self) -> Engine:
        return self._engine

    def index_names(self, pattern: str) -> list[str]:
        return ["logs-1"] if self.shards else []

    def open_point_in_time(self, index: str, keep_alive: str) -> tuple[str, dict[str, Any]]:
        if self.fail:
            raise self.fail
        pit = f"pit-{len(self.open_pits) + len(self.closed)}"
        self.open_pits.add(pit)
        return pit, {"_shards": {"total": self.shards}}

    def close_point_in_time(self, pit_id: str) -> None:
        self.open_pits.discard(pit_id)
        self.closed.append(pit_id)

    def search(self, index: str | None, body: dict[str, Any], params: Any = None) -> dict[str, Any]:
        self.searches.append(body)
        if self.fail:
            raise self.fail
        desc = body["sort"][0]["@timestamp"]["order"] == "desc"
        rows = [(millis(m), i, idx, doc_id) for i, (idx, doc_id, m) in enumerate(self.docs)]
        for clause in body["query"]["bool"]["filter"]:
            if "range" in clause:
                gte = datetime.fromisoformat(clause["range"]["@timestamp"]["gte"])
                rows = [r for r in rows if r[0] >= millis(gte)]
        rows.sort(reverse=desc)
        after = body.get("search_after")
        if after is not None:
            rows = [
                r for r in rows if ((r[0], r[1]) < tuple(after)) == desc and list(r[:2]) != after
            ]
        page = rows[: body["size"]]
        return {
            **({"pit_id": body["pit"]["id"]} if "pit" in body else {}),
            "hits": {
                "hits": [
                    {
                        "_index": idx,
                        "_id": doc_id,
                        "sort": [ms, seq],
                        **({"_source": {"id": doc_id}} if body.get("_source", True) else {}),
                    }
                    for ms, seq, idx, doc_id in page
                ]
            },
        }

    def mget(self, docs: list[dict[str, str]]) -> dict[str, Any]:
        self.mgets.append(docs)
        if self.fail:
            raise self.fail
        known = {(idx, doc_id) for idx, doc_id, _ in self.docs}
        return {
            "docs": [
                {"_index": d["_index"], "_id": d["_id"], "found": True, "_source": {"id": d["_id"]}}
                if (d["_index"], d["_id"]) in known
                else {"_index": d["_index"], "_id": d["_id"], "found": False}
                for d in docs
            ]
        }


def docs(n: int, *, same_time: bool = False) -> list[tuple[str, str, datetime]]:
    return [("logs-1", f"d{i}", T0 if same_time else T0 + timedelta(seconds=i)) for i in range(n)]


def ids(records: Iterator[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


def batch_ids(batches: Iterator[list[dict[str, Any]]]) -> list[list[str]]:
    return [[r["id"] for r in batch] for batch in batches]


def flat_ids(batches: Iterator[list[dict[str, Any]]]) -> list[str]:
    return [r["id"] for batch in batches for r in batch]


def test_newest_first_by_default() -> None:
    """Without --reverse the newest record comes first."""
    searcher = EsSearcher(FakeEs(docs(3)), "logs-*")  # type: ignore[arg-type]
    assert ids(searcher.search(Filters(), 10)) == ["d2", "d1", "d0"]


def test_reverse_is_oldest_first() -> None:
    """--reverse sorts ascending: the oldest matches first."""
    searcher = EsSearcher(FakeEs(docs(3)), "logs-*")  # type: ignore[arg-type]
    assert ids(searcher.search(Filters(), 2, newest_first=False)) == ["d0", "d1"]


def test_pages_through_more_than_one_page_with_search_after() -> None:
    """A limit above the page size is reached page by page, each after the last sort value."""
    client = FakeEs(docs(25, same_time=True))
    searcher = EsSearcher(client, "logs-*", page_size=10)  # type: ignore[arg-type]
    got = ids(searcher.search(Filters(), 23))
    assert len(got) == len(set(got)) == 23
    assert [s["size"] for s in client.searches] == [10, 10, 3]
    assert "search_after" not in client.searches[0]
    assert client.searches[1]["search_after"] is not None


def test_stops_when_results_run_out() -> None:
    """Fewer matches than the limit: one short page ends the search, and the PIT is closed."""
    client = FakeEs(docs(4))
    searcher = EsSearcher(client, "logs-*", page_size=10)  # type: ignore[arg-type]
    assert len(ids(searcher.search(Filters(), 100))) == 4
    assert len(client.searches) == 1
    assert client.open_pits == set()


def test_pit_closed_when_reader_stops_early() -> None:
    """Abandoning the iterator (e.g. a broken pipe) still closes the point in time."""
    client = FakeEs(docs(30))
    searcher = EsSearcher(client, "logs-*", page_size=10)  # type: ignore[arg-type]
    records = searcher.search(Filters(), None)
    next(records)
    records.close()  # type: ignore[attr-defined]
    assert client.open_pits == set()


def test_track_total_hits_is_off() -> None:
    """Paging does not pay for counting every match."""
    client = FakeEs(docs(1))
    list(EsSearcher(client, "logs-*").search(Filters(), 5))  # type: ignore[arg-type]
    assert client.searches[0]["track_total_hits"] is False


def test_no_index_is_a_clear_error() -> None:
    """A pattern matching no index (PIT over zero shards) says so and suggests the indexer."""
    client = FakeEs()
    client.shards = 0
    searcher = EsSearcher(client, "application-logs-*", url="http://es:9200")  # type: ignore[arg-type]
    with pytest.raises(NoIndexError) as info:
        list(searcher.search(Filters(), 10))
    assert str(info.value) == (
        "no indices match application-logs-* at http://es:9200 yet -- is the indexer running?"
    )
    assert client.open_pits == set()


def test_bad_query_names_query_and_reason() -> None:
    """ES 400 on a query: the message quotes the query and ES's most specific reason."""
    body = {
        "error": {
            "root_cause": [{"type": "query_shard_exception", "reason": "Failed to parse query"}],
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
            "failed_shards": [
                {
                    "reason": {
                        "type": "query_shard_exception",
                        "reason": "Failed to parse query [a AND (]",
                        "caused_by": {
                            "type": "parse_exception",
                            "reason": "Cannot parse 'a AND (': Encountered \"<EOF>\"\nmore",
                        },
                    }
                }
            ],
        },
        "status": 400,
    }
    client = FakeEs(docs(1))
    client.fail = api_error(400, body)
    searcher = EsSearcher(client, "logs-*")  # type: ignore[arg-type]
    with pytest.raises(SearchError) as info:
        list(searcher.search(Filters(query="a AND ("), 10))
    assert str(info.value).startswith(
        "Elasticsearch cannot run the query 'a AND (': "
        "Cannot parse 'a AND (': Encountered \"<EOF>\" (Lucene syntax: quote phrases"
    )


def test_unreachable_names_the_url() -> None:
    """A connection failure names the URL."""
    client = FakeEs()
    client.fail = unreachable("Connection refused")
    searcher = EsSearcher(client, "logs-*", url="http://127.0.0.1:1")  # type: ignore[arg-type]
    with pytest.raises(
        UnreachableError, match=r"cannot reach the search engine at http://127.0.0.1:1"
    ):
        list(searcher.search(Filters(), 10))


def test_not_found_is_no_index() -> None:
    """A 404 (a concrete index name that does not exist) is reported as no index."""
    client = FakeEs()
    client.fail = api_error(404, {"error": {"type": "index_not_found_exception"}})
    with pytest.raises(NoIndexError):
        list(EsSearcher(client, "logs-x").search(Filters(), 10))  # type: ignore[arg-type]


def test_overload_is_unavailable_and_retried_by_follow() -> None:
    """429/502/503/504 are "unavailable" (UnreachableError), which --follow waits out."""
    client = FakeEs()
    client.fail = api_error(429, {"error": {"reason": "rejected execution"}})
    with pytest.raises(UnreachableError, match=r"unavailable \(429\): rejected execution"):
        list(EsSearcher(client, "logs-*").search(Filters(), 10))  # type: ignore[arg-type]


def test_other_api_errors_name_the_status() -> None:
    """Any other refusal names the status and reason."""
    client = FakeEs()
    client.fail = api_error(500, {"error": {"reason": "cluster blocked"}})
    with pytest.raises(SearchError, match="answered 500: cluster blocked"):
        list(EsSearcher(client, "logs-*").search(Filters(), 10))  # type: ignore[arg-type]


def test_page_size_is_bounded() -> None:
    """A page size outside 1..10000 is refused at construction."""
    with pytest.raises(ValueError, match="page_size"):
        EsSearcher(FakeEs(), page_size=0)  # type: ignore[arg-type]


class StepStop(threading.Event):
    """A stop event whose wait() runs a step between polls instead of sleeping."""

    def __init__(self, steps: list[Any]) -> None:
        super().__init__()
        self.steps = steps
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if not self.steps:
            return True
        self.steps.pop(0)()
        return False


def test_follow_prints_backlog_oldest_first_then_new_records_once() -> None:
    """--follow: newest backlog in time order, then each new document exactly once."""
    now = T0 + timedelta(minutes=1)
    client = FakeEs(docs(3))
    stop = StepStop(
        [
            lambda: client.add("logs-1", "new1", now),
            lambda: client.add("logs-1", "new2", now),  # equal timestamp to new1
            lambda: None,  # nothing new: nothing printed again
        ]
    )
    searcher = EsSearcher(client, "logs-*")  # type: ignore[arg-type]
    got = batch_ids(
        searcher.follow(Filters(), backlog=2, stop=stop, interval=0.5, clock=lambda: now)
    )
    assert got == [["d1", "d2"], ["new1"], ["new2"]]
    assert stop.waits == [0.5, 0.5, 0.5, 0.5]


def test_follow_shows_late_arrivals_inside_lookback() -> None:
    """A record stamped before one already shown, but within the lookback, is still shown."""
    now = T0 + timedelta(minutes=1)
    client = FakeEs([("logs-1", "a", now)])
    stop = StepStop([lambda: client.add("logs-1", "late", now - timedelta(seconds=5))])
    searcher = EsSearcher(client, "logs-*")  # type: ignore[arg-type]
    got = flat_ids(
        searcher.follow(
            Filters(), backlog=10, stop=stop, lookback=timedelta(seconds=30), clock=lambda: now
        )
    )
    assert got == ["a", "late"]


def test_follow_waits_for_missing_index_and_reports_it_once() -> None:
    """No index yet: one notice, keep polling, then print what appears."""
    now = T0
    client = FakeEs()
    client.shards = 0
    notices: list[str] = []

    def appear() -> None:
        client.shards = 1
        client.add("logs-1", "first", now)

    stop = StepStop([lambda: None, appear])
    searcher = EsSearcher(client, "logs-*")  # type: ignore[arg-type]
    got = flat_ids(
        searcher.follow(Filters(), backlog=5, stop=stop, clock=lambda: now, notice=notices.append)
    )
    assert got == ["first"]
    assert len([n for n in notices if "no indices match" in n]) == 1
    assert notices[-1] == "indices matching logs-* exist now; following"


def test_follow_survives_an_outage() -> None:
    """Elasticsearch unreachable mid-follow: a notice, retries, then it carries on."""
    now = T0
    client = FakeEs([("logs-1", "a", now)])
    notices: list[str] = []

    def down() -> None:
        client.fail = unreachable("refused")

    def up() -> None:
        client.fail = None
        client.add("logs-1", "b", now)

    stop = StepStop([down, up])
    searcher = EsSearcher(client, "logs-*")  # type: ignore[arg-type]
    got = flat_ids(
        searcher.follow(Filters(), backlog=5, stop=stop, clock=lambda: now, notice=notices.append)
    )
    assert got == ["a", "b"]
    assert any("cannot reach the search engine" in n for n in notices)
    assert notices[-1] == "the search engine answers again; following"


def test_follow_bad_query_is_fatal() -> None:
    """A query Elasticsearch rejects ends --follow with the error instead of retrying."""
    client = FakeEs()
    client.fail = api_error(400, {"error": {"reason": "bad"}})
    searcher = EsSearcher(client, "logs-*")  # type: ignore[arg-type]
    with pytest.raises(SearchError, match="cannot run the query"):
        list(searcher.follow(Filters(query="("), backlog=5, stop=StepStop([])))


def test_shard_failures_in_a_200_answer_are_an_error() -> None:
    """Partial results are not silently printed: failed shards raise with their reason."""
    client = FakeEs(docs(3))
    original = client.search

    def partial(index: str | None, body: dict[str, Any], params: Any = None) -> dict[str, Any]:
        page = original(index, body, params)
        page["_shards"] = {
            "total": 2,
            "failed": 1,
            "failures": [{"reason": {"type": "query_shard_exception", "reason": "bad field"}}],
        }
        return page

    client.search = partial  # type: ignore[method-assign]
    with pytest.raises(SearchError, match="cannot run the query 'x': bad field"):
        list(EsSearcher(client, "logs-*").search(Filters(query="x"), 10))  # type: ignore[arg-type]
    client.search = lambda i, b, params=None: {  # type: ignore[method-assign]
        **partial(i, b, params),
        "_shards": {"total": 2, "failed": 1},
    }
    with pytest.raises(SearchError, match="failed on 1 of 2 shards of logs-\\*: unknown reason"):
        list(EsSearcher(client, "logs-*").search(Filters(), 10))  # type: ignore[arg-type]


def test_follow_fetches_records_only_for_new_ids() -> None:
    """Each poll lists ids without records, then fetches only the new records with mget."""
    now = T0 + timedelta(minutes=1)
    client = FakeEs([("logs-1", "a", now)])
    stop = StepStop([lambda: client.add("logs-1", "b", now), lambda: None])
    searcher = EsSearcher(client, "logs-*")  # type: ignore[arg-type]
    got = flat_ids(searcher.follow(Filters(), backlog=5, stop=stop, clock=lambda: now))
    assert got == ["a", "b"]
    polls = [s for s in client.searches if s["_source"] is False]
    assert len(polls) == 2
    assert client.mgets == [[{"_index": "logs-1", "_id": "b"}]]


@pytest.mark.parametrize("body", [None, "<html>Not Found</html>", ""])
def test_non_elasticsearch_answer_is_named(body: Any) -> None:
    """A 404 without an Elasticsearch error body (a proxy, another server) says so."""
    client = FakeEs()
    client.fail = api_error(404, body)
    searcher = EsSearcher(client, "logs-*", url="http://proxy:80")  # type: ignore[arg-type]
    with pytest.raises(
        SearchError,
        match=r"^http://proxy:80 answered 404( \(.+\))? -- is it Elasticsearch or OpenSearch\?$",
    ):
        list(searcher.search(Filters(), 10))


def test_follow_is_not_blinded_by_a_clock_running_ahead() -> None:
    """This machine's clock 10 minutes ahead of the services': new records still appear,
    because the window follows the newest record printed, not the local clock."""
    client = FakeEs([("logs-1", "a", T0)])
    stop = StepStop([lambda: client.add("logs-1", "b", T0 + timedelta(seconds=1))])
    searcher = EsSearcher(client, "logs-*")  # type: ignore[arg-type]
    ahead = T0 + timedelta(minutes=10)
    got = flat_ids(searcher.follow(Filters(), backlog=5, stop=stop, clock=lambda: ahead))
    assert got == ["a", "b"]


def test_follow_window_start() -> None:
    """The window starts lookback before min(newest printed, now), never before since, and is
    `since` itself before anything was printed."""
    from kafka_logging.search.es_search import _window_start

    lookback = timedelta(seconds=30)
    newest = millis(T0)
    since = T0 - timedelta(hours=1)
    assert _window_start(since, None, T0, lookback) == since
    assert _window_start(None, None, T0, lookback) is None
    assert _window_start(since, newest, T0 + timedelta(hours=1), lookback) == T0 - lookback
    behind = T0 - timedelta(minutes=5)  # local clock behind the records
    assert _window_start(since, newest, behind, lookback) == behind - lookback
    assert _window_start(T0, newest, T0, lookback) == T0


def test_opensearch_pages_with_an_id_tiebreaker() -> None:
    """OpenSearch has no implicit `_shard_doc`: its point-in-time sort adds `_id`, so records
    with equal timestamps page through exactly once."""
    client = FakeEs(docs(25, same_time=True), engine=OS2)
    searcher = EsSearcher(client, "logs-*", page_size=10)  # type: ignore[arg-type]
    got = ids(searcher.search(Filters(), 100))
    assert len(got) == len(set(got)) == 25
    assert client.searches[0]["sort"][1] == {"_id": {"order": "asc"}}
    assert all("pit" in s for s in client.searches)


def test_opensearch_before_2_4_pages_without_a_point_in_time() -> None:
    """OpenSearch 2.0-2.3 has no point in time: search_after on the index itself."""
    client = FakeEs(docs(12), engine=Engine("opensearch", "2.3.0"))
    searcher = EsSearcher(client, "logs-*", page_size=5)  # type: ignore[arg-type]
    assert len(ids(searcher.search(Filters(), 100))) == 12
    assert client.open_pits == set()
    assert client.closed == []
    assert all("pit" not in s for s in client.searches)
