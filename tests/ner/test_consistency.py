"""The litmine_consistency post-processing component, on real spaCy pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
import typer
from spacy.language import Language
from spacy.tokens import Doc
from typer.testing import CliRunner

from litmine.config import NerSettings
from litmine.entities import add_postprocess, build_nlp, extract, model_path
from litmine.ner.cli import ner_app
from litmine.ner.consistency import FACTORY, ConsistencyOptions, make_consistent
from litmine.types import Article, Passage
from tests.ner_helpers import save_ruler_pipeline

# scispaCy's detector warns about its (intentionally) empty global matcher.
pytestmark = pytest.mark.filterwarnings("ignore:.*W036:UserWarning")

Ents = list[tuple[str, str]]


def ents(doc: Doc) -> Ents:
    return [(e.text, e.label_) for e in doc.ents]


def tagged(nlp: Language, text: str, spans: list[tuple[str, int, str]]) -> Doc:
    """Run ``nlp`` (tokenizer, abbreviation detector) and set entities by hand.

    ``spans`` holds (substring, occurrence number, label): the entities a NER
    model would have predicted.
    """
    doc = nlp(text)
    out = []
    for sub, nth, label in spans:
        start = -1
        for _ in range(nth + 1):
            start = text.index(sub, start + 1)
        span = doc.char_span(start, start + len(sub), label=label)
        assert span is not None, sub
        out.append(span)
    doc.ents = sorted(out, key=lambda s: s.start)
    return doc


@pytest.fixture(scope="module")
def blank() -> Language:
    """spaCy's own English tokenizer (as scispaCy models) plus the abbreviation detector."""
    import scispacy.abbreviation  # noqa: F401

    nlp = spacy.blank("en")
    nlp.add_pipe("abbreviation_detector", config={"make_serializable": True})
    return nlp


# ------------------------------------------------------------------ the steps, one by one

ONLY_PROPAGATE = ConsistencyOptions(abbreviations=False, trim=False)
ONLY_ABBREVIATIONS = ConsistencyOptions(propagate=False, trim=False)


def test_propagation_tags_other_occurrences(blank: Language) -> None:
    text = "Naloxone was given. Later naloxone and Naloxone again; naloxonel is another word."
    doc = tagged(blank, text, [("Naloxone", 0, "CHEMICAL")])
    assert ents(make_consistent(doc, ONLY_PROPAGATE)) == [
        ("Naloxone", "CHEMICAL"),
        ("Naloxone", "CHEMICAL"),
    ]  # case-sensitive, token-aligned: "naloxone" and "naloxonel" stay untagged
    doc = tagged(blank, text, [("Naloxone", 0, "CHEMICAL")])
    folded = ConsistencyOptions(abbreviations=False, trim=False, ignore_case=True)
    assert [e.text for e in make_consistent(doc, folded).ents] == [
        "Naloxone",
        "naloxone",
        "Naloxone",
    ]


def test_ignore_case_keeps_capital_abbreviations(blank: Language) -> None:
    text = "CO poisoning. The co-administration of CO."
    doc = tagged(blank, text, [("CO", 0, "CHEMICAL")])
    folded = ConsistencyOptions(abbreviations=False, trim=False, ignore_case=True)
    assert [e.start_char for e in make_consistent(doc, folded).ents] == [0, text.rindex("CO")]


def test_longest_match_wins(blank: Language) -> None:
    text = "acute liver injury occurred. Two had liver injury; acute liver injury again."
    spans = [("acute liver injury", 0, "DISEASE"), ("liver injury", 2, "DISEASE")]
    # "acute liver injury" replaces the shorter entity it covers entirely; "liver
    # injury" fills the free occurrence but not the one inside the first entity.
    assert [e.text for e in make_consistent(tagged(blank, text, spans), ONLY_PROPAGATE).ents] == [
        "acute liver injury",
        "liver injury",
        "acute liver injury",
    ]
    skip = ConsistencyOptions(abbreviations=False, trim=False, replace_contained=False)
    assert [e.text for e in make_consistent(tagged(blank, text, spans), skip).ents] == [
        "acute liver injury",
        "liver injury",
        "liver injury",
    ]


def test_partial_overlap_blocks(blank: Language) -> None:
    text = "Sodium nitroprusside was infused. Sodium nitroprusside toxicity followed."
    spans = [("Sodium nitroprusside", 0, "CHEMICAL"), ("nitroprusside toxicity", 0, "DISEASE")]
    assert ents(make_consistent(tagged(blank, text, spans), ONLY_PROPAGATE)) == [
        ("Sodium nitroprusside", "CHEMICAL"),
        ("nitroprusside toxicity", "DISEASE"),
    ]


def test_ambiguous_and_short_strings_are_not_propagated(blank: Language) -> None:
    text = "Cold exposure. Cold agglutinin disease; Cold again. K was low, K rose."
    doc = tagged(
        blank, text, [("Cold", 0, "DISEASE"), ("Cold", 1, "CHEMICAL"), ("K", 0, "CHEMICAL")]
    )
    # "Cold" has two labels (tie: no propagation), "K" is a single character.
    assert ents(make_consistent(doc, ONLY_PROPAGATE)) == [
        ("Cold", "DISEASE"),
        ("Cold", "CHEMICAL"),
        ("K", "CHEMICAL"),
    ]


def test_abbreviation_long_form_labels_short_forms(blank: Language) -> None:
    text = "Dimethyl sulfoxide (DMSO) was the vehicle. DMSO alone had no effect."
    doc = tagged(blank, text, [("Dimethyl sulfoxide", 0, "CHEMICAL")])
    assert ents(make_consistent(doc, ONLY_ABBREVIATIONS)) == [
        ("Dimethyl sulfoxide", "CHEMICAL"),
        ("DMSO", "CHEMICAL"),
        ("DMSO", "CHEMICAL"),
    ]


def test_abbreviation_short_forms_label_long_form(blank: Language) -> None:
    text = "Overactive bladder (OAB) is common. Tolterodine improved OAB."
    doc = tagged(blank, text, [("OAB", 1, "DISEASE")])
    assert ents(make_consistent(doc, ONLY_ABBREVIATIONS)) == [
        ("Overactive bladder", "DISEASE"),
        ("OAB", "DISEASE"),
        ("OAB", "DISEASE"),
    ]


def test_abbreviation_head_of_long_form_and_relabel(blank: Language) -> None:
    text = "Levodopa - induced dyskinesia (LID) is frequent. LID was scored."
    doc = tagged(
        blank,
        text,
        [("Levodopa", 0, "CHEMICAL"), ("dyskinesia", 0, "DISEASE"), ("LID", 1, "CHEMICAL")],
    )
    # The long form is no entity; its head "dyskinesia" gives the label, and the
    # short form tagged CHEMICAL is relabelled. The long form itself is not added
    # (it would swallow the chemical).
    assert ents(make_consistent(doc, ONLY_ABBREVIATIONS)) == [
        ("Levodopa", "CHEMICAL"),
        ("dyskinesia", "DISEASE"),
        ("LID", "DISEASE"),
        ("LID", "DISEASE"),
    ]
    doc = tagged(blank, text, [("Levodopa", 0, "CHEMICAL"), ("dyskinesia", 0, "DISEASE")])
    no_head = ConsistencyOptions(propagate=False, trim=False, long_form_head=False)
    assert ents(make_consistent(doc, no_head)) == [
        ("Levodopa", "CHEMICAL"),
        ("dyskinesia", "DISEASE"),
    ]


def test_abbreviations_as_spans_work_too() -> None:
    import scispacy.abbreviation  # noqa: F401

    nlp = spacy.blank("en")
    nlp.add_pipe("abbreviation_detector")  # Span output, not dicts
    doc = tagged(
        nlp,
        "Nitroglycerin (NTG) infusion. NTG caused headache.",
        [("Nitroglycerin", 0, "CHEMICAL")],
    )
    assert [e.text for e in make_consistent(doc, ONLY_ABBREVIATIONS).ents] == [
        "Nitroglycerin",
        "NTG",
        "NTG",
    ]


def test_trim_splits_trailing_hyphen_and_full_stop(blank: Language) -> None:
    text = "Bupivacaine (BPV) and lidocaine- induced toxicity with chronic hepatitis C."
    doc = tagged(
        blank,
        text,
        [
            ("Bupivacaine", 0, "CHEMICAL"),
            ("lidocaine-", 0, "CHEMICAL"),
            ("hepatitis C.", 0, "DISEASE"),
        ],
    )
    n_tokens = len(doc)
    assert {t.text for t in doc} >= {"lidocaine-", "C."}
    only_trim = ConsistencyOptions(propagate=False, abbreviations=False)
    out = make_consistent(doc, only_trim)
    assert ents(out) == [
        ("Bupivacaine", "CHEMICAL"),
        ("lidocaine", "CHEMICAL"),
        ("hepatitis C", "DISEASE"),
    ]
    assert len(out) == n_tokens + 2
    assert out.text == text  # splitting never changes the text
    # The abbreviation detector's token offsets still point at the same words.
    (abbr,) = out._.abbreviations
    assert out[abbr["short_start"] : abbr["short_end"]].text == "BPV"
    assert out[abbr["long_start"] : abbr["long_end"]].text == "Bupivacaine"


# ------------------------------------------------------------------ pipelines


@pytest.fixture(scope="module")
def ruler_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_ruler_pipeline(tmp_path_factory.mktemp("ruler") / "pipeline")


def test_build_nlp_order_and_switch(ruler_dir: Path) -> None:
    nlp = build_nlp(NerSettings(model=str(ruler_dir)))
    assert nlp.pipe_names == ["ner", "abbreviation_detector", FACTORY]
    assert nlp.get_pipe(FACTORY).options == ConsistencyOptions()  # type: ignore[attr-defined]
    off = build_nlp(NerSettings(model=str(ruler_dir), postprocess=False))
    assert off.pipe_names == ["ner", "abbreviation_detector"]
    no_abbr = build_nlp(NerSettings(model=str(ruler_dir), abbreviations=False))
    assert no_abbr.pipe_names == ["ner", FACTORY]
    assert no_abbr.get_pipe(FACTORY).options.abbreviations is False  # type: ignore[attr-defined]


def test_add_postprocess_on_another_pipeline() -> None:
    """Any pipeline with a "ner" (here spaCy's tokenizer and a rule-based one)."""
    import scispacy.abbreviation  # noqa: F401

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", name="ner")
    ruler.add_patterns([{"label": "CHEMICAL", "pattern": "Mesna"}])  # type: ignore[attr-defined]
    nlp.add_pipe("abbreviation_detector", config={"make_serializable": True})
    nlp.add_pipe("sentencizer")
    add_postprocess(nlp)
    assert nlp.pipe_names == ["ner", "abbreviation_detector", FACTORY, "sentencizer"]
    doc = nlp("Sodium mercaptoethane sulfonate (Mesna) protects. Mesna and MESNA.")
    # The detector's long form starts at the word matching the short form's "M".
    assert ents(doc) == [
        ("mercaptoethane sulfonate", "CHEMICAL"),
        ("Mesna", "CHEMICAL"),
        ("Mesna", "CHEMICAL"),
    ]


# ------------------------------------------------------------------ the shipped model

SHIPPED_TEXTS = {
    # Abbreviation: only the long form is found by the model.
    "dmso": "Dimethyl sulfoxide (DMSO) was used as vehicle. DMSO alone had no effect.",
    # Abbreviation: short forms found with the wrong label.
    "ntg": "Nitroglycerin (NTG) induced headache. NTG was infused. After NTG, headache developed.",
    # Propagation: the model misses the first of three occurrences.
    "remi": "Remifentanil versus fentanyl. Remifentanil was infused at 0.1 microg/kg/min.",
    # Trim: "Bupivacaine-" is one token.
    "trim": "Bupivacaine- and lidocaine-induced seizures in rats.",
}


WIDE = "litmine-bc5cdr-wide"


@pytest.fixture(scope="module")
def shipped() -> tuple[Language, Language]:
    # The examples were picked from the errors of this model (the steps' table in its card).
    if model_path(WIDE) is None:
        pytest.skip(f"the shipped {WIDE} model is not in litmine/models/")
    return build_nlp(NerSettings(model=WIDE)), build_nlp(NerSettings(model=WIDE, postprocess=False))


def test_shipped_model_postprocessing_changes_predictions(
    shipped: tuple[Language, Language],
) -> None:
    on, off = shipped
    assert on.pipe_names == ["tok2vec", "ner", "abbreviation_detector", FACTORY]
    got = {k: (ents(off(t)), ents(on(t))) for k, t in SHIPPED_TEXTS.items()}

    before, after = got["dmso"]
    assert ("DMSO", "CHEMICAL") not in before
    assert after.count(("DMSO", "CHEMICAL")) == 2

    before, after = got["ntg"]
    assert ("NTG", "CHEMICAL") not in before and ("Nitroglycerin", "CHEMICAL") in before
    assert after.count(("NTG", "CHEMICAL")) == 3
    assert ("NTG", "DISEASE") not in after

    before, after = got["remi"]
    assert before.count(("Remifentanil", "CHEMICAL")) == 1
    assert after.count(("Remifentanil", "CHEMICAL")) == 2

    before, after = got["trim"]
    assert ("Bupivacaine-", "CHEMICAL") in before
    assert ("Bupivacaine", "CHEMICAL") in after
    doc = on(SHIPPED_TEXTS["trim"])
    assert doc.tensor.shape[0] == len(doc)  # spaCy's split leaves extra tensor rows


def test_shipped_model_extraction_uses_postprocessing(shipped: tuple[Language, Language]) -> None:
    on, _ = shipped
    abstract = SHIPPED_TEXTS["dmso"]
    a = Article(pmid="1", title="Vehicle effects", abstract=abstract)
    found = extract(on, [Passage(1, "1", 0, abstract, 0, len(abstract))], {"1": a})[1]
    dmso = [e for e in found if e.text == "DMSO"]
    assert len(dmso) == 2
    assert all(e.label == "CHEMICAL" and e.normalized == "dimethyl sulfoxide" for e in dmso)


# ------------------------------------------------------------------ `litmine ner eval`


def test_ner_eval_reports_postprocessing(ruler_dir: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(ner_app, name="ner")
    runner = CliRunner()
    title, abstract = "Naloxone and hypertension.", "Naloxone (NLX) reverses it; NLX works."
    text = f"{title} {abstract}"
    corpus = tmp_path / "c.txt"
    lines = [f"9|t|{title}", f"9|a|{abstract}"]
    for sub, nth in (("Naloxone", 0), ("Naloxone", 1), ("NLX", 0), ("NLX", 1)):
        start = -1
        for _ in range(nth + 1):
            start = text.index(sub, start + 1)
        lines.append(f"9\t{start}\t{start + len(sub)}\t{sub}\tChemical\t-1")
    h = text.index("hypertension")
    lines.append(f"9\t{h}\t{h + 12}\thypertension\tDisease\t-1")
    corpus.write_text("\n".join(lines) + "\n")

    base = ["ner", "eval", "--corpus", str(corpus), "--model", str(ruler_dir)]
    res = runner.invoke(app, [*base, "--json"])
    assert res.exit_code == 0, res.output
    on = json.loads(res.output)
    assert on["pipeline"] == ["ner", "abbreviation_detector", FACTORY]
    assert on["postprocess"] == ConsistencyOptions().describe()
    assert on["overall"]["f1"] == 1.0  # NLX comes from the abbreviation step

    res = runner.invoke(app, [*base, "--no-postprocess", "--json"])
    assert res.exit_code == 0, res.output
    off = json.loads(res.output)
    assert off["pipeline"] == ["ner", "abbreviation_detector"]
    assert off["postprocess"] == "none"
    assert off["overall"]["recall"] == 0.6

    res = runner.invoke(app, base)
    assert res.exit_code == 0, res.output
    assert "post-processing: abbreviations, propagation" in res.output
