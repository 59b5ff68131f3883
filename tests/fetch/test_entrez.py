"""The real EntrezGateway against the local replay server of recorded NCBI answers."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import httpx
import pytest
from lxml import etree

from litmine.config import EntrezSettings, load_settings
from litmine.errors import (
    ConfigError,
    EntrezError,
    EntrezHistoryError,
    EntrezUnavailableError,
    InputError,
)
from litmine.fetch.entrez import (
    DEFAULT_SINCE,
    EntrezGateway,
    HistoryRef,
    SearchWindow,
    _is_transient,
)
from tests.entrez_replay import Corpus, EntrezReplay, FakeClock, Fault, closed_port_url

MakeGateway = Callable[..., EntrezGateway]


def pmids_of(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    assert root.tag == "PubmedArticleSet"
    return [a.findtext("MedlineCitation/PMID") or "" for a in root.iterfind("PubmedArticle")]


class StampingTransport(httpx.BaseTransport):
    """Real HTTP transport that notes the (fake) clock when each request leaves."""

    def __init__(self, clock: FakeClock) -> None:
        self.inner = httpx.HTTPTransport()
        self.clock = clock
        self.stamps: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.stamps.append(self.clock())
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# -- ESearch / EPost / EFetch basics -------------------------------------------------


def test_esearch_parses_recorded_answer(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    result = gateway.esearch("cancer", retmax=100)

    assert result.count == 42249
    assert len(result.ids) == 100
    assert result.ids[0] == "41297076"
    assert result.ids[-1] == "41296368"
    assert result.webenv == "MCID_6927d6e7fee3e90f880ec190"
    assert result.query_key == "1"
    assert result.history == HistoryRef("MCID_6927d6e7fee3e90f880ec190", "1")
    assert result.query_translation and '"neoplasms"[MeSH Terms]' in result.query_translation
    assert result.warnings == () and result.errors == ()

    (request,) = entrez_replay.requests_for("esearch")
    assert request.method == "GET"
    assert request.params["db"] == "pubmed"
    assert request.params["term"] == "cancer"
    assert request.params["usehistory"] == "y"
    assert request.params["retmax"] == "100"
    assert "mindate" not in request.params


def test_esearch_sends_date_range(gateway: EntrezGateway, entrez_replay: EntrezReplay) -> None:
    gateway.esearch("cancer", mindate=dt.date(2024, 3, 1), maxdate=dt.date(2024, 3, 31))
    gateway.esearch("cancer", mindate=dt.date(2024, 3, 1), datetype="pdat", usehistory=False)

    first, second = (r.params for r in entrez_replay.requests_for("esearch"))
    assert (first["mindate"], first["maxdate"], first["datetype"]) == (
        "2024/03/01",
        "2024/03/31",
        "edat",
    )
    # NCBI needs both bounds: a missing maxdate becomes today.
    assert second["maxdate"] == dt.date.today().strftime("%Y/%m/%d")
    assert second["datetype"] == "pdat"
    assert "usehistory" not in second


def test_esearch_phrase_not_found_is_a_warning(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    entrez_replay.answer_term("abcXYZ", "esearch8.xml")

    result = gateway.esearch("abcXYZ")

    assert result.count == 0
    assert result.ids == ()
    assert result.errors == ("PhraseNotFound: abcXYZ",)
    assert "phrase not found: abcXYZ" in result.warnings
    assert "No items found." in result.warnings
    assert result.history is None


def test_esearch_invalid_query_raises_without_retry(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    entrez_replay.fail("esearch", Fault.error("Invalid query"))

    with pytest.raises(EntrezError, match="Invalid query"):
        gateway.esearch("((")
    assert len(entrez_replay.requests_for("esearch")) == 1


def test_esearch_empty_term_is_an_input_error(gateway: EntrezGateway) -> None:
    with pytest.raises(InputError):
        gateway.esearch("  ")


def test_epost_always_posts_and_feeds_efetch(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    ref = gateway.epost(["12091962", "9997"])

    assert ref == HistoryRef("MCID_692851c130aec64bed0a8c2a", "1")
    (post,) = entrez_replay.requests_for("epost")
    assert post.method == "POST"
    assert post.form["id"] == "12091962,9997"
    assert b"12091962%2C9997" in post.body
    assert "id" not in post.query

    xml = gateway.efetch(history=ref, retmax=10)
    assert pmids_of(xml) == ["12091962", "9997"]
    fetch = entrez_replay.requests_for("efetch")[0].params
    assert (fetch["WebEnv"], fetch["query_key"], fetch["retstart"], fetch["retmax"]) == (
        ref.webenv,
        "1",
        "0",
        "10",
    )


def test_epost_error_element_is_not_retried(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    entrez_replay.fail("epost", Fault.file("epost3.xml"))

    with pytest.raises(EntrezError, match="Empty ID list"):
        gateway.epost(["1"])
    assert len(entrez_replay.requests_for("epost")) == 1


def test_efetch_by_ids_returns_real_articles(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    ids = ["12091962", "9997", "11748933", "27797938"]

    xml = gateway.efetch(ids=ids)

    assert xml.startswith(b"<?xml")
    assert pmids_of(xml) == ids
    (request,) = entrez_replay.requests_for("efetch")
    assert request.method == "GET"
    assert request.query["id"] == ",".join(ids)
    assert request.query["retmode"] == "xml"


def test_efetch_argument_checks(gateway: EntrezGateway) -> None:
    with pytest.raises(InputError):
        gateway.efetch()
    with pytest.raises(InputError):
        gateway.efetch(history=HistoryRef("w", "1"), ids=["1"])
    with pytest.raises(InputError, match="not a PMID"):
        gateway.efetch(ids=["123", "PMC42"])
    with pytest.raises(InputError):
        gateway.efetch(ids=[])


def test_identification_sent_with_every_request(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(api_key="k3y-for-tests", post_threshold=1)
    ref = gateway.epost(["9997"])
    gateway.esearch("cancer")
    gateway.efetch(history=ref)
    gateway.efetch(ids=["9997", "12091962"])  # POST: over the threshold of 1

    assert {r.method for r in entrez_replay.requests} == {"GET", "POST"}
    for request in entrez_replay.requests:
        assert request.params["tool"] == "litmine-tests"
        assert request.params["email"] == "tests@example.org"
        assert request.params["api_key"] == "k3y-for-tests"


def test_api_key_omitted_when_unset(gateway: EntrezGateway, entrez_replay: EntrezReplay) -> None:
    gateway.esearch("cancer")
    assert "api_key" not in entrez_replay.requests[0].params
    assert entrez_replay.requests[0].params["tool"] == "litmine-tests"


def test_post_used_above_threshold(make_gateway: MakeGateway, entrez_replay: EntrezReplay) -> None:
    gateway = make_gateway(post_threshold=3)
    few = ["12091962", "9997", "11748933"]
    many = [*few, "11700088"]

    assert pmids_of(gateway.efetch(ids=few)) == few
    assert pmids_of(gateway.efetch(ids=many)) == many

    short, long = entrez_replay.requests_for("efetch")
    assert short.method == "GET" and short.form == {}
    assert long.method == "POST"
    assert long.form["id"] == ",".join(many)
    assert "id" not in long.query
    assert long.form["tool"] == "litmine-tests"


# -- retries -------------------------------------------------------------------------

FAULTS = {
    "429": Fault.rate_limited(0),
    "500": Fault.http(500),
    "502": Fault.http(502),
    "503": Fault.http(503),
    "reset": Fault.reset(),
    "truncated-half": Fault.truncated(),
    "truncated-einfo4": Fault.truncated("einfo4.xml"),
    "html-200": Fault.html(),
    "backend-error": Fault.error(
        "Search Backend failed: Couldn't resolve #exec_ncbi, the address table is empty."
    ),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_efetch_faults_are_retried(
    fault: Fault, gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    entrez_replay.fail("efetch", fault, times=2)

    xml = gateway.efetch(ids=["9997"])

    assert pmids_of(xml) == ["9997"]
    assert len(entrez_replay.requests_for("efetch")) == 3
    assert entrez_replay.pending_faults("efetch") == 0


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_esearch_faults_are_retried(
    fault: Fault, gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    entrez_replay.fail("esearch", fault)

    assert gateway.esearch("cancer").count == 42249
    assert len(entrez_replay.requests_for("esearch")) == 2


def test_epost_faults_are_retried_with_same_body(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    entrez_replay.fail("epost", Fault.reset())
    entrez_replay.fail("epost", Fault.truncated())

    gateway.epost(["9997", "12091962"])

    posts = entrez_replay.requests_for("epost")
    assert len(posts) == 3
    assert {p.form["id"] for p in posts} == {"9997,12091962"}


def test_slow_answer_times_out_and_is_retried(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(timeout=0.3)
    entrez_replay.fail("efetch", Fault.slow(5.0))

    assert pmids_of(gateway.efetch(ids=["9997"])) == ["9997"]
    assert len(entrez_replay.requests_for("efetch")) == 2


def test_retry_after_is_honoured(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay, clock: FakeClock
) -> None:
    gateway = make_gateway(backoff_max=60.0)
    entrez_replay.fail("esearch", Fault.rate_limited(7))

    gateway.esearch("cancer")

    assert max(clock.sleeps) >= 7.0
    assert len(entrez_replay.requests_for("esearch")) == 2


def test_retry_after_is_capped(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay, clock: FakeClock
) -> None:
    gateway = make_gateway(backoff_max=20.0)
    entrez_replay.fail("esearch", Fault.rate_limited(3600))

    gateway.esearch("cancer")

    assert max(clock.sleeps) == 20.0


def test_backoff_is_exponential_with_full_jitter(make_gateway: MakeGateway) -> None:
    gateway = make_gateway(backoff_base=0.5, backoff_max=30.0)
    for attempt in range(8):
        ceiling = min(30.0, 0.5 * 2**attempt)
        delays = [gateway._backoff(attempt, None) for _ in range(50)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered, not a fixed schedule
    assert gateway._backoff(0, 4.0) >= 4.0


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("Search Backend failed: Couldn't resolve #exec_ncbi, the address table is empty.", True),
        ("Unable to obtain query #1", True),
        ("Database is temporarily unavailable", True),
        ("Search Backend failed: Exception: 'retstart' cannot be larger than 9998.", False),
        ("Invalid query", False),
        ("Empty term and query_key - nothing todo", False),
        ("Empty ID list; Nothing to store", False),
        ("Something nobody has seen", False),
    ],
)
def test_error_element_classification(message: str, transient: bool) -> None:
    assert _is_transient(message) is transient


def test_exhausted_retries_raise_entrez_error(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay, clock: FakeClock
) -> None:
    gateway = make_gateway(max_retries=2)
    entrez_replay.fail("efetch", Fault.http(503), times=3)

    with pytest.raises(EntrezError) as info:
        gateway.efetch(ids=["9997"])

    assert not isinstance(info.value, EntrezUnavailableError)
    message = str(info.value)
    assert "efetch.fcgi" in message
    assert "3 attempt" in message
    assert "HTTP 503" in message
    assert len(entrez_replay.requests_for("efetch")) == 3


def test_exhausted_retries_on_bad_bodies_name_the_problem(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(max_retries=1)
    entrez_replay.fail("efetch", Fault.html())
    entrez_replay.fail("efetch", Fault.truncated())

    with pytest.raises(EntrezError, match="ill-formed or truncated XML"):
        gateway.efetch(ids=["9997"])


def test_unknown_history_is_retried_then_reported(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(max_retries=1)

    with pytest.raises(EntrezError, match="Unable to obtain query"):
        gateway.efetch(history=HistoryRef("MCID_expired", "1"))
    assert len(entrez_replay.requests_for("efetch")) == 2


@pytest.mark.parametrize("status", [400, 404])
def test_client_errors_are_not_retried(
    status: int, gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    entrez_replay.fail("esearch", Fault.http(status))

    with pytest.raises(EntrezError, match=f"HTTP {status}") as info:
        gateway.esearch("cancer")

    assert "Not Found" in str(info.value) or status != 404
    assert len(entrez_replay.requests_for("esearch")) == 1


def test_unreachable_host_raises_unavailable_with_offline_hint(clock: FakeClock) -> None:
    settings = EntrezSettings(eutils_url=closed_port_url(), max_retries=2, backoff_base=0.001)

    with (
        EntrezGateway(settings, sleep=clock.sleep, clock=clock) as gateway,
        pytest.raises(EntrezUnavailableError) as info,
    ):
        gateway.esearch("cancer")

    assert "ingest --file" in str(info.value)
    assert info.value.url == settings.eutils_url
    assert "connect" in info.value.reason


def test_non_http_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        EntrezGateway(EntrezSettings(eutils_url="ftp://example.org/eutils/"))


# -- rate limiting ---------------------------------------------------------------------


@pytest.mark.parametrize(("api_key", "rate"), [(None, 3), ("k3y", 10)])
def test_rate_limit_without_and_with_api_key(
    api_key: str | None,
    rate: int,
    make_gateway: MakeGateway,
    entrez_replay: EntrezReplay,
    clock: FakeClock,
) -> None:
    transport = StampingTransport(clock)
    gateway = make_gateway(api_key=api_key, transport=transport)
    assert gateway.settings.rate_limit == rate
    entrez_replay.fail("esearch", Fault.http(503), times=2)  # retries count too

    for _ in range(3 * rate):
        gateway.esearch("cancer")

    stamps = transport.stamps
    assert len(stamps) == 3 * rate + 2
    # No 1-second span ever holds more than `rate` requests ...
    for first, later in zip(stamps, stamps[rate:], strict=False):
        assert later - first >= 1.0 - 1e-6
    # ... and the limiter does not wait more than needed.
    assert stamps[-1] - stamps[0] <= (len(stamps) - 1) / rate + 0.1


def test_gateways_of_one_process_share_the_rate_limit(
    make_gateway: MakeGateway, clock: FakeClock
) -> None:
    transport = StampingTransport(clock)
    # One gateway per planned window, as the nightly flow opens them.
    for _ in range(6):
        with make_gateway(transport=transport) as gateway:
            gateway.esearch("cancer")
    stamps = transport.stamps
    assert len(stamps) == 6
    for first, later in zip(stamps, stamps[3:], strict=False):
        assert later - first >= 1.0 - 1e-6
    # Another API key is another quota.
    other = StampingTransport(clock)
    start = clock()
    make_gateway(api_key="other-key", transport=other).esearch("cancer")
    assert other.stamps == [start]


def test_explicit_rate_overrides_default(make_gateway: MakeGateway, clock: FakeClock) -> None:
    transport = StampingTransport(clock)
    gateway = make_gateway(requests_per_second=1, transport=transport)
    for _ in range(3):
        gateway.esearch("cancer")
    assert [b - a for a, b in itertools.pairwise(transport.stamps)] == [
        1.0,
        1.0,
    ]


# -- date splitting ---------------------------------------------------------------------


def assert_tiles(windows: list[SearchWindow], since: dt.date, until: dt.date) -> None:
    """Date windows are chronological, contiguous and cover [since, until]."""
    assert windows[0].mindate == since
    assert windows[-1].maxdate == until
    for before, after in itertools.pairwise(windows):
        if (
            after.pmid_range is not None
            and before.pmid_range is not None
            and after.mindate == before.mindate  # PMID slices of one day
        ):
            assert after.pmid_range[0] > before.pmid_range[1]
            continue
        assert after.mindate == before.maxdate + dt.timedelta(days=1)
    for window in windows:
        assert window.mindate <= window.maxdate


def test_plan_windows_bisects_large_result_sets(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    since, until = dt.date(2020, 1, 1), dt.date(2020, 12, 31)
    corpus = entrez_replay.use_corpus(Corpus.spread(25_000, since, until))

    windows = gateway.plan_windows("cancer", since, until)

    assert len(windows) >= 3
    assert all(w.count <= gateway.settings.search_window for w in windows)
    assert sum(w.count for w in windows) == 25_000
    assert_tiles(windows, since, until)
    for window in windows:
        assert window.count == corpus.count(window.mindate, window.maxdate)
        assert window.history is not None and window.pmid_range is None
    assert len({w.history.webenv for w in windows if w.history}) == len(windows)
    for request in entrez_replay.requests_for("esearch"):
        assert request.params["retmax"] == "0"
        assert request.params["usehistory"] == "y"
        assert request.params["datetype"] == "edat"


def test_plan_windows_small_search_is_one_window(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    since, until = dt.date(2021, 5, 1), dt.date(2021, 5, 31)
    entrez_replay.use_corpus(Corpus.spread(40, since, until))

    (window,) = gateway.plan_windows("asthma", since, until)

    assert (window.mindate, window.maxdate, window.count) == (since, until, 40)
    assert len(entrez_replay.requests_for("esearch")) == 1


def test_plan_windows_splits_a_crowded_day_by_pmid(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(search_window=100)
    since, until = dt.date(2022, 1, 1), dt.date(2022, 1, 10)
    crowded = dt.date(2022, 1, 4)
    corpus = entrez_replay.use_corpus(Corpus.spread(150, since, until, spikes={crowded: 330}))

    windows = gateway.plan_windows("cancer", since, until)

    assert all(w.count <= 100 for w in windows)
    assert sum(w.count for w in windows) == len(corpus) == 480
    assert_tiles(windows, since, until)
    day_slices = [w for w in windows if w.pmid_range is not None]
    assert len(day_slices) >= 4
    assert {(w.mindate, w.maxdate) for w in day_slices} == {(crowded, crowded)}
    assert sum(w.count for w in day_slices) == corpus.count(crowded, crowded)
    assert all("[uid]" in w.term and w.term.startswith("(cancer) AND ") for w in day_slices)


def test_plan_windows_defaults_and_checks(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    entrez_replay.use_corpus(Corpus.spread(10, dt.date(2020, 1, 1), dt.date(2020, 1, 2)))

    (window,) = gateway.plan_windows("cancer")

    assert (window.mindate, window.maxdate, window.count) == (DEFAULT_SINCE, dt.date.today(), 10)
    with pytest.raises(InputError):
        gateway.plan_windows("cancer", dt.date(2020, 2, 1), dt.date(2020, 1, 1))


# -- paging ---------------------------------------------------------------------------------


def test_iter_batches_pages_through_the_history(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(batch_size=10)
    since, until = dt.date(2023, 6, 1), dt.date(2023, 6, 5)
    corpus = entrez_replay.use_corpus(Corpus.spread(23, since, until))

    batches = list(gateway.iter_batches("cancer", since=since, until=until))

    assert [(b.retstart, b.count) for b in batches] == [(0, 10), (10, 10), (20, 3)]
    assert [b.last_in_window for b in batches] == [False, False, True]
    assert all(b.maxdate == until and b.mindate == since for b in batches)
    fetched = [pmid for b in batches for pmid in pmids_of(b.xml)]
    assert sorted(fetched) == sorted(str(p) for _, p in corpus.records)
    assert len(set(fetched)) == 23
    webenv = batches[0].window.history.webenv if batches[0].window.history else None
    for request, (start, size) in zip(
        entrez_replay.requests_for("efetch"), [(0, 10), (10, 10), (20, 3)], strict=True
    ):
        assert request.params["WebEnv"] == webenv
        assert request.params["query_key"] == "1"
        assert (request.params["retstart"], request.params["retmax"]) == (str(start), str(size))


def test_iter_batches_covers_every_window_once(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(batch_size=4, search_window=10)
    since, until = dt.date(2019, 3, 1), dt.date(2019, 3, 10)
    corpus = entrez_replay.use_corpus(Corpus.spread(25, since, until))

    batches = list(gateway.iter_batches("cancer", since=since, until=until))

    fetched = [pmid for b in batches for pmid in pmids_of(b.xml)]
    assert sorted(fetched) == sorted(str(p) for _, p in corpus.records)
    windows = {b.window for b in batches}
    assert len(windows) >= 3
    assert sum(b.last_in_window for b in batches) == len(windows)
    maxdates = [b.maxdate for b in batches]
    assert maxdates == sorted(maxdates)
    # Synthesised records carry their corpus Entrez date.
    first = etree.fromstring(batches[0].xml).find(
        "PubmedArticle/PubmedData/History/PubMedPubDate[@PubStatus='entrez']"
    )
    assert first is not None
    assert first.findtext("Year") == "2019" and first.findtext("Month") == "3"


def test_iter_batches_stops_at_max_records(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(batch_size=5)
    since, until = dt.date(2023, 1, 1), dt.date(2023, 1, 31)
    entrez_replay.use_corpus(Corpus.spread(40, since, until))

    batches = list(gateway.iter_batches("cancer", since=since, until=until, max_records=12))

    assert [b.count for b in batches] == [5, 5, 2]
    assert sum(len(pmids_of(b.xml)) for b in batches) == 12
    assert not any(b.last_in_window for b in batches)  # the window was not finished
    assert len(entrez_replay.requests_for("efetch")) == 3
    assert list(gateway.iter_batches("cancer", since=since, until=until, max_records=0)) == []


def test_iter_window_pages_one_planned_window(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(batch_size=4, search_window=10)
    since, until = dt.date(2019, 3, 1), dt.date(2019, 3, 10)
    corpus = entrez_replay.use_corpus(Corpus.spread(25, since, until))
    windows = gateway.plan_windows("cancer", since, until)

    pages = [list(gateway.iter_window(w)) for w in windows]

    for window, window_pages in zip(windows, pages, strict=True):
        fetched = [pmid for xml in window_pages for pmid in pmids_of(xml)]
        expected = [str(p) for _, p in corpus.select(window.mindate, window.maxdate)]
        assert sorted(fetched) == sorted(expected)
    first = windows[0]
    assert [len(pmids_of(x)) for x in gateway.iter_window(first, max_records=5)] == [4, 1]


def test_expired_history_is_searched_again_and_paging_resumes(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(batch_size=4, search_window=50, max_retries=1)
    since, until = dt.date(2019, 3, 1), dt.date(2019, 3, 10)
    corpus = entrez_replay.use_corpus(Corpus.spread(10, since, until))
    (window,) = gateway.plan_windows("cancer", since, until)
    pages = gateway.iter_window(window)
    first = next(pages)
    entrez_replay.forget_histories()  # the window waited hours for its turn
    entrez_replay.clear()

    rest = list(pages)

    fetched = [p for xml in (first, *rest) for p in pmids_of(xml)]
    assert sorted(fetched) == sorted(str(p) for _, p in corpus.select(since, until))
    assert len(fetched) == len(set(fetched)) == 10  # same set: paging resumed, not restarted
    assert len(entrez_replay.requests_for("esearch")) == 1
    efetches = entrez_replay.requests_for("efetch")
    assert [r.params.get("retstart") for r in efetches] == ["4", "4", "4", "8"]
    assert efetches[0].params["WebEnv"] != efetches[-1].params["WebEnv"]


def test_window_that_changed_while_its_history_expired_is_paged_again(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(batch_size=4, search_window=50, max_retries=0)
    since, until = dt.date(2019, 3, 1), dt.date(2019, 3, 10)
    entrez_replay.use_corpus(Corpus.spread(10, since, until))
    (window,) = gateway.plan_windows("cancer", since, until)
    pages = gateway.iter_window(window)
    first = next(pages)
    # Records were added to the window's days, and its history set expired.
    grown = entrez_replay.use_corpus(Corpus.spread(13, since, until))
    entrez_replay.forget_histories()

    rest = list(pages)

    fetched = [p for xml in rest for p in pmids_of(xml)]
    assert sorted(fetched) == sorted(str(p) for _, p in grown.select(since, until))
    assert set(pmids_of(first)) <= set(fetched)  # from the start again: nothing skipped


def test_history_lost_twice_on_one_page_is_reported(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    gateway = make_gateway(batch_size=4, max_retries=0)
    since, until = dt.date(2019, 3, 1), dt.date(2019, 3, 10)
    entrez_replay.use_corpus(Corpus.spread(10, since, until))
    (window,) = gateway.plan_windows("cancer", since, until)
    entrez_replay.fail("efetch", Fault.error("Unable to obtain query #1"), times=2)

    with pytest.raises(EntrezHistoryError, match="Unable to obtain query") as info:
        list(gateway.iter_window(window))
    assert "search again" in (info.value.hint or "")
    assert len(entrez_replay.requests_for("esearch")) == 2  # the plan, then one new search


def test_large_window_beyond_10k_is_refused_by_server(
    gateway: EntrezGateway, entrez_replay: EntrezReplay
) -> None:
    """Why windows exist: PubMed will not page past 10,000; the error is not retried."""
    since, until = dt.date(2020, 1, 1), dt.date(2020, 12, 31)
    entrez_replay.use_corpus(Corpus.spread(12_000, since, until))
    result = gateway.esearch("cancer", mindate=since, maxdate=until)
    assert result.count == 12_000 and result.history is not None

    with pytest.raises(EntrezError, match="cannot be larger"):
        gateway.efetch(history=result.history, retstart=10_000, retmax=5)
    assert len(entrez_replay.requests_for("efetch")) == 1


def test_fetch_ids_batches(make_gateway: MakeGateway, entrez_replay: EntrezReplay) -> None:
    gateway = make_gateway(batch_size=2)
    ids = ["12091962", "9997", "11748933", "11700088", "27797938"]

    pages = list(gateway.fetch_ids(ids))

    assert [pmids_of(p) for p in pages] == [ids[0:2], ids[2:4], ids[4:]]
    with pytest.raises(InputError):
        gateway.fetch_ids(["1", "x"])  # raised before any request
    assert len(entrez_replay.requests_for("efetch")) == 3


def test_env_helper_points_settings_at_replay(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in entrez_replay.env().items():
        monkeypatch.setenv(name, value)

    entrez = load_settings().entrez

    assert entrez.eutils_url == entrez_replay.url
    assert entrez.email == "tests@example.org"
    assert entrez.rate_limit == 10
    assert entrez.backoff_max == 0.01
