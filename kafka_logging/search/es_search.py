"""Searching Elasticsearch or OpenSearch: pages through a point in time with search_after,
and --follow.

Every client error is translated here into a `SearchError` whose message is one line a user
can act on: the query Elasticsearch could not parse and why, the index pattern that matches
nothing yet, the URL that does not answer.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kafka_logging.errors import FatalError
from kafka_logging.search.filters import Filters
from kafka_logging.search.timeparse import utc_now

if TYPE_CHECKING:
    from kafka_logging.engines.client import EngineApiError, EngineClient

MAX_PAGE = 1000
_UNAVAILABLE = frozenset({429, 502, 503, 504})
_QUERY_FAILURES = frozenset({"query_shard_exception", "parse_exception", "search_parse_exception"})
DEFAULT_INDEX = "application-logs-*"
QUERY_HINT = (
    ' (Lucene syntax: quote phrases like "GET /orders"; escape + - = && || > < ! ( ) { } [ ]'
    ' ^ " ~ * ? : \\ / with a backslash)'
)


class SearchError(FatalError):
    """A search that cannot be answered; the message says why in one line."""


class NoIndexError(SearchError):
    """The index pattern matches no index (yet)."""


class UnreachableError(SearchError):
    """Elasticsearch does not answer at the configured URL, or is overloaded for now
    (--follow waits and retries)."""


class Hit:
    """One search hit: where it lives, its sort time, and the record (empty without source)."""

    __slots__ = ("id", "index", "millis", "source")

    def __init__(self, index: str, id: str, millis: int | None, source: dict[str, Any]) -> None:
        self.index = index
        self.id = id
        self.millis = millis  # the sort value of @timestamp (epoch ms); None when absent
        self.source = source


def _deepest_reason(error: Any) -> str | None:
    """The most specific `reason` in an Elasticsearch error body (root cause or caused_by)."""
    if not isinstance(error, dict):
        return None
    nested = _deepest_reason(error.get("caused_by"))
    if nested:
        return nested
    for failure in error.get("failed_shards") or ():
        nested = _deepest_reason(failure.get("reason"))
        if nested:
            return nested
    for cause in error.get("root_cause") or ():
        nested = _deepest_reason(cause)
        if nested:
            return nested
    reason = error.get("reason")
    return str(reason) if reason else None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


class EsSearcher:
    """Runs searches for one index pattern on one client. Knows nothing of the CLI."""

    def __init__(
        self,
        client: EngineClient,
        index: str = DEFAULT_INDEX,
        *,
        url: str = "",
        page_size: int = MAX_PAGE,
        keep_alive: str = "2m",
    ) -> None:
        if not 1 <= page_size <= 10_000:
            raise ValueError(f"page_size must be between 1 and 10000, not {page_size}")
        self._client = client
        self._index = index
        self._url = url or "the search engine"
        self._page_size = page_size
        self._keep_alive = keep_alive
        from kafka_logging.engines.client import (  # noqa: PLC0415
            EngineApiError,
            EngineUnreachable,
        )

        self._api_error = EngineApiError
        self._transport_error = EngineUnreachable

    # -- errors ------------------------------------------------------------------------------

    def _translate(self, exc: Exception, filters: Filters) -> SearchError:
        if isinstance(exc, self._transport_error):
            return UnreachableError(_first_line(str(exc)))
        if isinstance(exc, FatalError):  # an unsupported engine, refused credentials
            return SearchError(_first_line(str(exc)))
        if not isinstance(exc, self._api_error):
            return SearchError(f"{self._url}: {exc}")
        return self._translate_api(exc, filters)

    def _translate_api(self, exc: EngineApiError, filters: Filters) -> SearchError:  # noqa: PLR0911
        error = exc.error
        reason = _first_line(_deepest_reason(error) or "") or _first_line(exc.reason)
        status = exc.status
        if status in _UNAVAILABLE:
            return UnreachableError(f"{self._url} is unavailable ({status}): {reason}")
        if status in (401, 403):
            return SearchError(
                f"{self._url} refused the request ({status}): {reason}"
                " -- check username/password/api_key in the `elasticsearch:` config section"
            )
        if status == 404 and exc.error_type == "index_not_found_exception":
            return self._no_index()
        if error is None:
            # Not a search engine's error body: a proxy or another server on that address.
            detail = f" ({reason})" if reason not in ("", "None") else ""
            return SearchError(
                f"{self._url} answered {status}{detail} -- is it Elasticsearch or OpenSearch?"
            )
        if status == 400:
            if filters.query:
                return SearchError(
                    f"{self._engine_name()} cannot run the query {filters.query!r}: "
                    f"{reason}{QUERY_HINT}"
                )
            return SearchError(f"{self._engine_name()} rejected the search: {reason}")
        return SearchError(f"{self._url} answered {status}: {reason}")

    def _engine_name(self) -> str:
        try:
            return self._client.engine().product_name
        except Exception:  # noqa: BLE001 - only for a message
            return "the search engine"

    def _check_shards(self, page: Any, filters: Filters) -> None:
        """A 200 answer can still carry shard failures (e.g. a query that does not parse on
        the indices the time range selects): partial results are an error, not an answer."""
        shards = page.get("_shards") or {}
        failed = shards.get("failed") or 0
        if not failed:
            return
        failures = shards.get("failures") or [{}]
        reason = _first_line(_deepest_reason(failures[0].get("reason")) or "unknown reason")
        if filters.query and failures[0].get("reason", {}).get("type") in _QUERY_FAILURES:
            name = self._engine_name()
            raise SearchError(
                f"{name} cannot run the query {filters.query!r}: {reason}{QUERY_HINT}"
            )
        raise SearchError(
            f"{self._url} failed on {failed} of {shards.get('total', '?')}"
            f" shards of {self._index}: {reason}"
        )

    def _no_index(self) -> NoIndexError:
        return NoIndexError(
            f"no indices match {self._index} at {self._url} yet -- is the indexer running?"
        )

    # -- paging ------------------------------------------------------------------------------

    def hits(
        self,
        filters: Filters,
        limit: int | None,
        *,
        newest_first: bool = True,
        since: datetime | None = None,
        with_source: bool = True,
    ) -> Iterator[Hit]:
        """Up to `limit` (None: all) matching hits in time order, paged through a point in time.

        `with_source=False` fetches only index, id and sort values (the record stays empty).
        Raises NoIndexError when the pattern matches no index, SearchError for anything else.
        """
        query = filters.es_query(since)
        order = "desc" if newest_first else "asc"
        try:
            engine = self._client.engine()
        except (self._api_error, self._transport_error, FatalError) as exc:
            raise self._translate(exc, filters) from None
        sort: list[dict[str, Any]] = [
            {"@timestamp": {"order": order, "unmapped_type": "date"}},
            *engine.tiebreaker,
        ]
        pit_id: str | None = None
        if engine.pit_style != "none":
            pit_id = self._open(filters)
            if pit_id is None:
                raise self._no_index()
        try:
            remaining = limit
            search_after: list[Any] | None = None
            while remaining is None or remaining > 0:
                size = self._page_size if remaining is None else min(self._page_size, remaining)
                body = self._page_body(query, sort, size, with_source, search_after, pit_id)
                try:
                    page = self._client.search(
                        None if pit_id is not None else self._index,
                        body,
                        params=None if pit_id is not None else {"ignore_unavailable": "true"},
                    )
                except (self._api_error, self._transport_error) as exc:
                    raise self._translate(exc, filters) from None
                pit_id = page.get("pit_id", pit_id)
                if pit_id is None and page.get("_shards", {}).get("total", 1) == 0:
                    raise self._no_index()
                self._check_shards(page, filters)
                found = page["hits"]["hits"]
                for raw in found:
                    yield _hit(raw)
                if remaining is not None:
                    remaining -= len(found)
                if len(found) < size:
                    return
                search_after = found[-1]["sort"]
        finally:
            if pit_id is not None:
                self._close(pit_id)

    def _page_body(
        self,
        query: dict[str, Any],
        sort: list[dict[str, Any]],
        size: int,
        with_source: bool,
        search_after: list[Any] | None,
        pit_id: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "query": query,
            "sort": sort,
            "size": size,
            "track_total_hits": False,
            "_source": with_source,
        }
        if search_after is not None:
            body["search_after"] = search_after
        if pit_id is not None:
            body["pit"] = {"id": pit_id, "keep_alive": self._keep_alive}
        return body

    def _open(self, filters: Filters) -> str | None:
        """A point in time on the index pattern; None when the pattern matches no index."""
        try:
            pit_id, opened = self._client.open_point_in_time(self._index, self._keep_alive)
        except self._api_error as exc:
            # OpenSearch refuses a point in time over no index with a 400 (`invalid id`).
            if exc.status == 400 and not self._client.index_names(self._index):
                return None
            raise self._translate(exc, filters) from None
        except self._transport_error as exc:
            raise self._translate(exc, filters) from None
        if opened.get("_shards", {}).get("total", 1) == 0:
            self._close(pit_id)
            return None
        return pit_id

    def _close(self, pit_id: str) -> None:
        # A point in time expires by itself after keep_alive; closing early is a courtesy.
        with contextlib.suppress(self._api_error, self._transport_error):
            self._client.close_point_in_time(pit_id)

    def search(
        self, filters: Filters, limit: int | None, *, newest_first: bool = True
    ) -> Iterator[dict[str, Any]]:
        """The records of `hits()`."""
        for hit in self.hits(filters, limit, newest_first=newest_first):
            yield hit.source

    # -- follow ------------------------------------------------------------------------------

    def follow(
        self,
        filters: Filters,
        *,
        backlog: int,
        stop: threading.Event,
        interval: float = 2.0,
        lookback: timedelta = timedelta(seconds=30),
        clock: Callable[[], datetime] = utc_now,
        notice: Callable[[str], None] = lambda _: None,
    ) -> Iterator[list[dict[str, Any]]]:
        """The newest `backlog` matches oldest first, then each new match once, until `stop`;
        in batches (the backlog, then one per poll that found something).

        Every `interval` seconds it asks for matches stamped at or after a window start and
        prints those it has not printed yet (by index and _id), so records with equal
        timestamps, or indexed a little after later ones, appear exactly once. The window
        starts `lookback` before the newest record printed so far (or before now, if this
        machine's clock is behind the records'), so a clock that runs ahead of the services'
        clocks hides nothing; until a first match, it starts at the filters' `since`. A record
        that becomes searchable more than `lookback` after a newer one was printed is missed.
        Elasticsearch outages and a missing index are reported through `notice` and retried.
        """
        seen: dict[tuple[str, str], int | None] = {}
        newest: int | None = None  # epoch ms of the newest record printed
        problem: SearchError | None = None
        try:
            initial = list(self.hits(filters, backlog, newest_first=True)) if backlog else []
        except (NoIndexError, UnreachableError) as exc:
            problem = exc
            notice(f"{exc}; waiting")
            initial = []
        newest = _remember(seen, initial, newest)
        floor = filters.since
        if backlog and len(initial) == backlog and initial[-1].millis is not None:
            # The backlog was cut at --limit: older matches stay hidden, as they were.
            cut = datetime.fromtimestamp(initial[-1].millis / 1000, UTC)
            floor = cut if floor is None or cut > floor else floor
        if initial:
            yield [hit.source for hit in reversed(initial)]
        while not stop.wait(interval):
            window = _window_start(floor, newest, clock(), lookback)
            try:
                fresh = self._unseen(filters, window, seen)
            except (NoIndexError, UnreachableError) as exc:
                if str(exc) != str(problem):
                    problem = exc
                    notice(f"{exc}; retrying every {interval:g}s")
                continue
            if problem is not None:
                notice(
                    f"indices matching {self._index} exist now; following"
                    if isinstance(problem, NoIndexError)
                    else f"{self._url} answers again; following"
                )
                problem = None
            newest = _remember(seen, fresh, newest)
            if fresh:
                yield [hit.source for hit in fresh]
            if window is not None:
                _forget_before(seen, _millis(window))

    def _unseen(
        self, filters: Filters, window: datetime | None, seen: dict[tuple[str, str], int | None]
    ) -> list[Hit]:
        """Matches stamped at or after `window` not printed yet, oldest first.

        Two steps keep each poll cheap however busy the window is: list ids and sort values
        only, then fetch the records of the new ones (mget, up to a page at a time).
        """
        new = [
            hit
            for hit in self.hits(filters, None, newest_first=False, since=window, with_source=False)
            if (hit.index, hit.id) not in seen
        ]
        sources: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(new), self._page_size):
            chunk = new[start : start + self._page_size]
            try:
                answer = self._client.mget([{"_index": h.index, "_id": h.id} for h in chunk])
            except (self._api_error, self._transport_error) as exc:
                raise self._translate(exc, filters) from None
            for doc in answer["docs"]:
                if doc.get("found"):
                    sources[(doc["_index"], doc["_id"])] = doc.get("_source") or {}
        # A record deleted between the two steps is simply not there any more.
        return [
            Hit(h.index, h.id, h.millis, sources[(h.index, h.id)])
            for h in new
            if (h.index, h.id) in sources
        ]


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _remember(
    seen: dict[tuple[str, str], int | None], hits: list[Hit], newest: int | None
) -> int | None:
    """Mark `hits` printed; the newest timestamp printed so far."""
    for hit in hits:
        seen[(hit.index, hit.id)] = hit.millis
        if hit.millis is not None and (newest is None or hit.millis > newest):
            newest = hit.millis
    return newest


def _window_start(
    since: datetime | None, newest: int | None, now: datetime, lookback: timedelta
) -> datetime | None:
    """Where a --follow poll starts: lookback before min(newest printed, now), never before
    `since`; `since` itself until something was printed."""
    if newest is None:
        return since
    start = min(datetime.fromtimestamp(newest / 1000, UTC), now) - lookback
    return start if since is None or start > since else since


def _forget_before(seen: dict[tuple[str, str], int | None], millis: int) -> None:
    """Drop ids stamped before the window: no later query can return them again."""
    for key in [k for k, v in seen.items() if v is None or v < millis]:
        del seen[key]


def _hit(raw: dict[str, Any]) -> Hit:
    sort = raw.get("sort") or [None]
    millis = sort[0] if isinstance(sort[0], int) else None
    return Hit(index=raw["_index"], id=raw["_id"], millis=millis, source=raw.get("_source") or {})
