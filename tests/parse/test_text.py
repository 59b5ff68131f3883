"""Markup-to-text cleaning: entities, inline tags, MathML, whitespace, Unicode."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from lxml import etree

from litmine.parse.text import clean_text, element_text, markup_to_text, normalize_whitespace

PARSER = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
MML = 'xmlns:mml="http://www.w3.org/1998/Math/MathML"'


def xml(fragment: str) -> etree._Element:
    return etree.fromstring(fragment.encode("utf-8"), PARSER)


# --- clean_text on strings -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("p &lt; 0.05", "p < 0.05"),  # double-escaped entity left after XML decoding
        ("&#x3b1;-helix and &#946;-sheet", "α-helix and β-sheet"),
        ("10&nbsp;mg", "10 mg"),
        ("R&D and AT&T", "R&D and AT&T"),  # bare ampersands are not entities
        ("x<sub>2</sub> and <i>E. coli</i>", "x2 and E. coli"),
        ("p <0.05 and <5 mm", "p <0.05 and <5 mm"),  # comparison signs are words here
        ("  a \t b\n\n c  ", "a b c"),
        ("a\x00b\x07c\x1bd\x7fe", "abcde"),
        ("dose\x96response", "doseresponse"),  # C1 control (cp1252 en dash mojibake) dropped
    ],
)
def test_clean_text_strings(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_none_and_empty() -> None:
    assert clean_text(None) == ""
    assert clean_text("") == ""
    assert clean_text(" \u200b\u00a0 ") == ""


def test_keep_newlines_squeezes_blank_lines() -> None:
    raw = "  first  line \r\n\n\n\nsecond\tline\u2028third  "
    assert clean_text(raw, keep_newlines=True) == "first line\n\nsecond line\nthird"
    assert normalize_whitespace("a\n\n\nb", keep_newlines=True) == "a\n\nb"
    assert clean_text(raw) == "first line second line third"


def test_unicode_is_nfc_and_keeps_combining_marks() -> None:
    decomposed = "Cafe\u0301 and A\u030angstro\u0308m"
    out = clean_text(decomposed)
    assert out == "Café and Ångström"
    assert unicodedata.is_normalized("NFC", out)
    assert "\u00e9" in out  # composed to one code point
    # No precomposed form exists for q + dot above: the mark must survive.
    assert clean_text("q\u0307") == "q\u0307"
    # ANGSTROM SIGN is a singleton that NFC maps to Å.
    assert clean_text("5 \u212b") == "5 \u00c5"


def test_rtl_text_survives_and_bidi_controls_go() -> None:
    arabic = "\u0627\u0644\u0633\u0643\u0631\u064a"  # "diabetes" in Arabic
    hebrew = "\u05e1\u05d5\u05db\u05e8\u05ea"
    raw = f"\u202b{arabic}\u202c (\u200f{hebrew}\u200e) type 2"
    assert clean_text(raw) == f"{arabic} ({hebrew}) type 2"


def test_zero_width_characters() -> None:
    # Zero-width space, soft hyphen and BOM are invisible and carry no word.
    assert clean_text("gluco\u200bcorti\u00adcoid\ufeff") == "glucocorticoid"
    # ZWNJ/ZWJ change spelling (Persian) and emoji sequences: kept.
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert clean_text(persian) == persian
    health_worker = "\U0001f469\u200d\u2695\ufe0f"
    assert clean_text(f"a {health_worker} b") == f"a {health_worker} b"


def test_every_space_kind_becomes_a_plain_space() -> None:
    raw = "5\u2009mg\u00a0/\u202fkg\u3000day"
    assert clean_text(raw) == "5 mg / kg day"


def test_huge_string_is_cleaned_whole() -> None:
    word = "telomere\u00a0length "
    raw = word * 6_250  # 100k characters
    out = clean_text(raw)
    assert len(raw) >= 100_000
    assert out == ("telomere length " * 6_250).strip()


# --- element_text on markup ------------------------------------------------


def test_inline_tags_keep_words_and_order() -> None:
    el = xml(
        "<AbstractText>Levels of CO<sub>2</sub> in <i>E. coli</i> rose "
        "(r<sup>2</sup>=0.9; p<sub>trend</sub>&lt;0.01) <b>sharply</b>.</AbstractText>"
    )
    assert element_text(el) == "Levels of CO2 in E. coli rose (r2=0.9; ptrend<0.01) sharply."


def test_own_tail_is_not_included() -> None:
    root = xml("<r><t>title <i>x</i> end</t> outside</r>")
    assert element_text(root[0]) == "title x end"
    assert element_text(None) == ""


def test_underlined_comparison_signs() -> None:
    el = xml("<t>TSH (0.4-<u>&lt;</u>4.5) and age <u>&gt;</u>65 and <u>note</u></t>")
    assert element_text(el) == "TSH (0.4-≤4.5) and age ≥65 and note"


def test_unresolved_entity_nodes_are_decoded() -> None:
    # Without the DTD, libxml2 keeps &nbsp; as an entity node.
    el = xml('<!DOCTYPE t SYSTEM "https://example.org/t.dtd"><t>10&nbsp;mg &alpha;-tubulin</t>')
    assert element_text(el) == "10 mg α-tubulin"


def test_mathml_scripts_in_reading_order() -> None:
    el = xml(
        f"<t {MML}>inhaled <mml:math><mml:mrow><mml:mmultiscripts><mml:mi>He</mml:mi>"
        "<mml:mprescripts/><mml:none/><mml:mn>3</mml:mn></mml:mmultiscripts>"
        "<mml:mtext> </mml:mtext><mml:mi>MRI</mml:mi></mml:mrow></mml:math> and "
        "<mml:math><mml:msubsup><mml:mi>x</mml:mi><mml:mn>1</mml:mn><mml:mn>2</mml:mn>"
        "</mml:msubsup></mml:math></t>"
    )
    assert element_text(el) == "inhaled 3He MRI and x12"


def test_mathml_layout_elements() -> None:
    el = xml(
        f"<t {MML}><mml:math><mml:mfrac><mml:mrow><mml:mi>a</mml:mi><mml:mo>+</mml:mo>"
        "<mml:mi>b</mml:mi></mml:mrow><mml:mn>2</mml:mn></mml:mfrac></mml:math>, "
        "<mml:math><mml:msqrt><mml:mi>n</mml:mi></mml:msqrt></mml:math>, "
        "<mml:math><mml:mfenced><mml:mi>x</mml:mi><mml:mi>y</mml:mi></mml:mfenced></mml:math>, "
        "<mml:math><mml:mover><mml:mi>x</mml:mi><mml:mo>¯</mml:mo></mml:mover></mml:math>, "
        "<mml:math><mml:semantics><mml:mi>k</mml:mi>"
        "<mml:annotation>k-latex</mml:annotation></mml:semantics></mml:math></t>"
    )
    assert element_text(el) == "(a+b)/2, √n, (x,y), x\u0304, k"


def test_mathml_text_edges_and_function_names() -> None:
    el = xml(
        f"<t {MML}><mml:math><mml:mi>a</mml:mi><mml:mtext> and </mml:mtext><mml:mi>b</mml:mi>"
        "</mml:math>; <mml:math><mml:mi>log</mml:mi><mml:mi>x</mml:mi><mml:mo>+</mml:mo>"
        "<mml:msub><mml:mi>VO</mml:mi><mml:mrow><mml:mn>2</mml:mn><mml:mi>max</mml:mi></mml:mrow>"
        "</mml:msub></mml:math></t>"
    )
    assert element_text(el) == "a and b; log x+VO2max"


def test_mathml_alttext_fallback_and_undeclared_prefix() -> None:
    el = xml(f'<t {MML}>value <mml:math alttext="\\alpha"></mml:math> here</t>')
    assert element_text(el) == "value \\alpha here"
    # mml: prefix without a namespace declaration (no DTD to supply it).
    out = markup_to_text(
        "<mml:math><mml:msub><mml:mi>x</mml:mi><mml:mn>2</mml:mn></mml:msub></mml:math>"
    )
    assert out == "x2"


def test_markup_to_text_falls_back_on_broken_markup() -> None:
    assert markup_to_text("a <i>broken</b> &amp; b") == "a broken & b"
    assert markup_to_text("plain &lt;tag&gt;") == "plain <tag>"


def _abstract_texts(path: Path) -> list[str]:
    tree = etree.parse(str(path), PARSER)
    return [element_text(el) for el in tree.iter("AbstractText")]


def test_real_mathml_pubmed6(shared_data: Path) -> None:
    (text,) = _abstract_texts(shared_data / "entrez" / "pubmed6.xml")
    assert "maximal oxygen uptake ( V\u0307O2max ) 67.6 ± 4.1 ml·kg-1·min-1]" in text
    assert "best predictors of V\u0307O2max (r = 0.72-0.79" in text
    assert "(LEmin)" in text and "km·h-1" in text
    assert "mml:" not in text and "<" not in text.replace("P < 0.001", "")
    assert "  " not in text and "\n" not in text


def test_real_mathml_pubmed7(shared_data: Path) -> None:
    (text,) = _abstract_texts(shared_data / "entrez" / "pubmed7.xml")
    assert "(1) inhaled 3He/129Xe MRI ventilation" in text
    assert "ultrashort echo-time 1H MRI proton density" in text
    assert "Fourier-decomposition 1H MRI ventilation/perfusion" in text
    assert "mml" not in text and "<" not in text and ">" not in text


def test_real_html_tags_pubmed4(shared_data: Path) -> None:
    texts = _abstract_texts(shared_data / "entrez" / "pubmed4.xml")
    joined = " ".join(texts)
    assert "reverse transcriptase (TERT) gene region" in joined
    assert "p=0.002" in joined and "ptrend=0.048" in joined
    assert "disequilibrium r2<0.25)" in joined
    assert "<i>" not in joined and "<sub>" not in joined


def test_ascii_printable_is_isprintable() -> None:
    from litmine.parse.text import ascii_printable

    samples = ["", "plain", "x" * 63, "x" * 64, "y" * 500, " spaced  out "]
    samples += [
        s[:k] + bad + s[k:]
        for s in ("a" * 100, "b" * 10)
        for k in (0, 5)
        for bad in "\t\n\x7f\x00\x1f"
    ]
    for text in samples:
        assert ascii_printable(text) == text.isprintable(), repr(text)
