"""Turn inline markup into clean text without losing words.

PubMed titles and abstracts carry HTML-like inline tags (``<i>``, ``<sup>``,
``<sub>``, ``<b>``, ``<u>``), character entities and MathML. The functions here
flatten all of it into plain text in reading order (``x<sub>2</sub>`` becomes
``x2``; a MathML ``msub`` becomes base + subscript; pre-scripts such as the 3 of
helium-3 come before their base), then normalise the string: entities decoded,
control and invisible format characters dropped, every kind of space turned into
a plain space, runs of whitespace collapsed and the result NFC-normalised.

Everything here is a pure function; nothing keeps state between calls.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from lxml import etree

__all__ = [
    "MATHML_NS",
    "clean_text",
    "element_text",
    "markup_to_text",
    "mathml_text",
    "normalize_whitespace",
]

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
_MATHML_PREFIX = "{" + MATHML_NS + "}"

# Entities left in the text after XML decoding (double-escaped sources such as
# ``&amp;lt;`` or HTML entities in JSON/MEDLINE). Only the terminated form is
# decoded, so "R&D" or "AT&T;x" style text is never touched by accident.
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# Inline markup that arrives as literal text (escaped in the source). Only this
# fixed list of tag names is removed, so "p <0.05" or "<5 mm" keep every word.
_LITERAL_TAG_RE = re.compile(
    r"</?(?:i|b|u|em|strong|sup|sub|sc|span|small|big|tt|br|p|mml:[a-z]+)(?:\s[^<>]{0,200})?/?>",
    re.IGNORECASE,
)

# Characters removed or replaced by clean_text (one regex finds them all):
# C0 controls except TAB/LF/CR/VT/FF (whitespace), DEL and C1 controls are
# dropped; every Unicode space separator becomes a plain space; NEL and the
# line/paragraph separators become a newline; invisible format characters that
# carry no words are dropped: soft hyphen, zero-width space, LRM/RLM, bidi
# embeddings/overrides/isolates, word joiner, invisible math operators,
# deprecated format controls and the BOM. ZWNJ/ZWJ (U+200C/U+200D) are kept:
# they change spelling in Persian and Indic scripts and in emoji sequences.
_REPLACEMENTS: dict[str, str] = {chr(cp): "" for cp in (*range(0x00, 0x09), 0x0E, 0x0F)}
_REPLACEMENTS.update({chr(cp): "" for cp in (*range(0x10, 0x20), *range(0x7F, 0xA0))})
_REPLACEMENTS.update(
    {chr(cp): " " for cp in range(0xA0, 0x3001) if unicodedata.category(chr(cp)) == "Zs"}
)
_REPLACEMENTS.update({"\x85": "\n", "\u2028": "\n", "\u2029": "\n"})
_REPLACEMENTS.update(
    {
        chr(cp): ""
        for cp in (
            0x00AD,
            0x200B,
            0x200E,
            0x200F,
            *range(0x202A, 0x202F),
            *range(0x2060, 0x2065),
            *range(0x2066, 0x2070),
            0xFEFF,
        )
    }
)
_SPECIAL_RE = re.compile("[" + "".join(re.escape(ch) for ch in sorted(_REPLACEMENTS)) + "]")


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def ascii_printable(text: str) -> bool:
    """``text.isprintable()`` for a string known to be ASCII, faster on long ones.

    ``str.isprintable`` looks every character up in the Unicode tables (about
    3 ns each: 5 µs for an abstract); deleting the printable bytes from the
    encoded string runs at memory speed.
    """
    if len(text) < 64:
        return text.isprintable()
    return not text.encode("ascii").translate(None, _PRINTABLE_ASCII)


def _replace_special(match: re.Match[str]) -> str:
    return _REPLACEMENTS[match.group(0)]


def _unescape_entity(match: re.Match[str]) -> str:
    return html.unescape(match.group(0))


def normalize_whitespace(text: str, *, keep_newlines: bool = False) -> str:
    """Collapse runs of whitespace.

    Args:
        text: Input string (already free of control characters).
        keep_newlines: If False every whitespace run becomes one space. If True
            line breaks survive: spaces inside each line are collapsed, blank
            lines are squeezed to at most one, and the ends are trimmed.

    Returns:
        The string with normalised whitespace and no leading/trailing blanks.
    """
    if not keep_newlines:
        return " ".join(text.split())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    blank = False
    for line in lines:
        if line:
            if blank and out:
                out.append("")
            out.append(line)
            blank = False
        else:
            blank = True
    return "\n".join(out)


def _needs_whitespace_pass(text: str) -> bool:
    """Whether ``text`` (free of exotic spaces) has anything to collapse or trim."""
    return (
        text[0] == " "
        or text[-1] == " "
        or "  " in text
        or "\n" in text
        or "\t" in text
        or "\r" in text
        or "\x0b" in text
        or "\x0c" in text
    )


def clean_text(text: str | None, *, keep_newlines: bool = False) -> str:
    """Normalise a string for storage, search and display.

    Decodes leftover entities (``&lt;``, ``&#x3b1;``, ``&nbsp;``), removes
    literal inline tags from a fixed list (``<i>``, ``</sup>``...), drops
    control characters and invisible format characters (zero-width space,
    bidi marks, soft hyphen, BOM), turns every Unicode space into a plain
    space, collapses whitespace and NFC-normalises the result. Words,
    punctuation, combining marks and right-to-left letters are kept.

    Args:
        text: Input string; None is treated as empty.
        keep_newlines: Keep line breaks (see :func:`normalize_whitespace`).

    Returns:
        The cleaned string (possibly empty).
    """
    if not text:
        return ""
    if "&" in text:
        text = _ENTITY_RE.sub(_unescape_entity, text)
    if "<" in text:
        text = _LITERAL_TAG_RE.sub("", text)
    if text.isascii():
        if not ascii_printable(text):  # tabs, line breaks or control characters
            text = _SPECIAL_RE.sub(_replace_special, text)
            return normalize_whitespace(text, keep_newlines=keep_newlines)
        if text and (text[0] == " " or text[-1] == " " or "  " in text):
            return " ".join(text.split())
        return text
    # Every character _SPECIAL_RE replaces, and every whitespace character
    # but the plain space, is unprintable: a printable string (most titles,
    # affiliations and abstracts) skips those scans.
    printable = text.isprintable()
    if not printable and _SPECIAL_RE.search(text):
        text = _SPECIAL_RE.sub(_replace_special, text)
        printable = text.isprintable()
    if text and (
        (text[0] == " " or text[-1] == " " or "  " in text)
        if printable
        else _needs_whitespace_pass(text)
    ):
        text = normalize_whitespace(text, keep_newlines=keep_newlines)
    # normalize() returns the string itself when the Unicode quick check
    # says it is NFC already (most text), without building a copy.
    return unicodedata.normalize("NFC", text)


# ---------------------------------------------------------------------------
# Element text: HTML-ish inline tags and MathML
# ---------------------------------------------------------------------------


def _local(tag: str) -> str:
    """Local name of a tag: ``{ns}msub`` or ``mml:msub`` -> ``msub``."""
    if tag[0] == "{":
        return tag[tag.index("}") + 1 :]
    colon = tag.find(":")
    return tag[colon + 1 :] if colon >= 0 else tag


# Characters that, as the lone content of an <mover>/<munder> script, are an
# accent on the base. They become the matching combining mark so that the
# MathML for V-dot-O2max reads "V̇O2max" rather than "V.O2max".
_OVER_ACCENTS = {
    ".": "\u0307",
    "\u02d9": "\u0307",  # DOT ABOVE
    "\u00b7": "\u0307",  # MIDDLE DOT
    "\u2219": "\u0307",
    "\u22c5": "\u0307",
    "..": "\u0308",
    "\u00a8": "\u0308",  # DIAERESIS
    "^": "\u0302",
    "\u02c6": "\u0302",
    "~": "\u0303",
    "\u02dc": "\u0303",
    "\u00af": "\u0304",  # MACRON
    "\u203e": "\u0305",  # OVERLINE
    "-": "\u0304",
    "_": "\u0304",
    "\u2015": "\u0304",
    "\u2192": "\u20d7",  # RIGHTWARDS ARROW -> combining arrow above
    "\u2190": "\u20d6",
    "\u02c7": "\u030c",  # CARON
    "\u00b4": "\u0301",
    "`": "\u0300",
}
_UNDER_ACCENTS = {
    "_": "\u0332",
    "\u00af": "\u0331",
    "-": "\u0332",
    "\u2015": "\u0332",
    ".": "\u0323",
    "~": "\u0330",
}


def _math_children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if type(c.tag) is str]


def _itertext(el: etree._Element) -> str:
    """All text inside ``el`` (markup dropped), as ``itertext`` joins it."""
    return "".join(t for t in el.itertext() if isinstance(t, str))


def _math_token(el: etree._Element) -> str:
    """Text of a token element (mi, mn, mo, ms): inner markup flattened."""
    text = _itertext(el) if len(el) else (el.text or "")
    return " ".join(text.split())


def _math_wrap(part: str) -> str:
    """Parenthesise a fraction/root part unless it is one simple token."""
    if len(part) <= 1 or part.replace(".", "").isalnum():
        return part
    return f"({part})"


_MATHML_PREFIX_LEN = len(MATHML_NS) + 2
_TOKENS = frozenset({"mi", "mn", "mo", "ms"})
_SCRIPTED = frozenset({"msub", "msup", "msubsup"})
# Elements that render as nothing (their content is layout or annotation).
_SILENT = frozenset(
    {"none", "mprescripts", "mphantom", "annotation", "annotation-xml", "malignmark"}
)
_FUNCTION_NAMES = frozenset(
    {
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "sinh",
        "cosh",
        "tanh",
        "arcsin",
        "arccos",
        "arctan",
        "log",
        "ln",
        "lg",
        "exp",
        "lim",
        "max",
        "min",
        "sup",
        "inf",
        "det",
        "arg",
    }
)


def _math_render(el: etree._Element) -> str:
    """Render one MathML element to text in reading order (ignores its tail)."""
    tag = el.tag
    name = tag[_MATHML_PREFIX_LEN:] if tag.startswith(_MATHML_PREFIX) else _local(tag)
    if name in _TOKENS:
        if len(el) == 0:
            text = el.text
            return " ".join(text.split()) if text else ""
        return _math_token(el)
    if name == "mtext":
        text = _itertext(el)
        if not text:
            return ""
        collapsed = " ".join(text.split())
        if not collapsed:
            return " "
        # Keep one space at either edge: "<mtext> and </mtext>" separates words.
        lead = " " if text[0].isspace() else ""
        trail = " " if text[-1].isspace() else ""
        return lead + collapsed + trail
    if name == "mspace":
        return " "
    if name in _SILENT:
        return ""
    if name == "mglyph":
        return el.get("alt") or ""
    kids = _math_children(el)
    if name == "semantics" or name == "maction":
        return _math_render(kids[0]) if kids else ""
    if name == "mfrac" and len(kids) == 2:
        num, den = (_math_render(k).strip() for k in kids)
        return f"{_math_wrap(num)}/{_math_wrap(den)}"
    if name == "msqrt":
        inner = "".join(_math_render(k) for k in kids).strip()
        return "\u221a" + _math_wrap(inner)
    if name == "mroot" and len(kids) == 2:
        base, index = (_math_render(k).strip() for k in kids)
        return f"{index}\u221a{_math_wrap(base)}"
    if name in ("mover", "munder") and len(kids) == 2:
        base = _math_render(kids[0])
        script = _math_render(kids[1]).strip()
        accents = _OVER_ACCENTS if name == "mover" else _UNDER_ACCENTS
        mark = accents.get(script)
        if mark and base.strip():
            return base.rstrip() + mark
        return base + script
    if name == "munderover" and len(kids) == 3:
        return "".join(_math_render(k) for k in kids)
    if name == "mmultiscripts" and kids:
        # base, (post-sub post-sup)*, [mprescripts, (pre-sub pre-sup)*]
        base = _math_render(kids[0])
        post: list[str] = []
        pre: list[str] = []
        target = post
        for kid in kids[1:]:
            if _local(kid.tag) == "mprescripts":
                target = pre
                continue
            target.append(_math_render(kid))
        return "".join(pre) + base + "".join(post)
    if name == "mfenced":
        open_ = el.get("open", "(")
        close = el.get("close", ")")
        seps = (el.get("separators", ",") or "").replace(" ", "")
        parts: list[str] = []
        for i, kid in enumerate(kids):
            if i and seps:
                parts.append(seps[min(i - 1, len(seps) - 1)])
            parts.append(_math_render(kid))
        return open_ + "".join(parts) + close
    if name == "mtable":
        return "; ".join(_math_render(k).strip() for k in kids)
    if name in ("mtr", "mlabeledtr"):
        return " ".join(_math_render(k).strip() for k in kids)
    if name in _SCRIPTED:
        return "".join(_math_render(k) for k in kids)
    # math, mrow, mstyle, mpadded, menclose, merror, mtd...: a row of items.
    return _math_row(kids)


def _math_row(kids: list[etree._Element]) -> str:
    """Concatenate row items; a function name (``sin``, ``log``) gets a space after."""
    parts: list[str] = []
    pending_space = False
    for kid in kids:
        text = _math_render(kid)
        if not text:
            continue
        if pending_space and text[0].isalnum():
            parts.append(" ")
        parts.append(text)
        pending_space = text in _FUNCTION_NAMES
    return "".join(parts)


def mathml_text(el: etree._Element) -> str:
    """Render a MathML element (usually ``<mml:math>``) as plain text.

    Token text is concatenated in reading order without the indentation
    whitespace of the markup: sub/superscripts follow their base (``x2``),
    pre-scripts precede it (``3He``), fractions read ``a/b``, roots ``√x``,
    and accents in ``<mover>`` become combining marks (``V̇``). ``<mtext>``
    spaces are kept. Falls back to the ``alttext`` attribute when the
    markup holds no text, and to the bare text of the tokens when it nests
    deeper than Python recurses (libxml2 allows 2048 levels; PubMed's
    formulas nest a dozen).

    Args:
        el: The MathML element.

    Returns:
        The rendered text, not yet whitespace-normalised.
    """
    try:
        text = _math_render(el)
    except RecursionError:
        text = " ".join(" ".join(str(t) for t in el.itertext()).split())
    if not text.strip():
        text = el.get("alttext") or ""
    return text


_LE_GE = {"<": "\u2264", ">": "\u2265"}
_MATHML_STARTS = (_MATHML_PREFIX, "mml:")


def _append_text(el: etree._Element, out: list[str]) -> None:
    """Append the text of ``el`` and its descendants (not its own tail).

    Walks with a stack rather than recursion: documents without a DTD subset
    are parsed with libxml2's raised limits (2048 levels), deeper than
    Python's recursion limit.
    """
    text = el.text
    if text:
        out.append(text)
    # (children still to read, the element they belong to: its tail follows them)
    stack: list[tuple[Iterator[Any], etree._Element | None]] = [(iter(el), None)]
    while stack:
        children, owner = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            tail = owner.tail if owner is not None else None
            if tail:
                out.append(tail)
            continue
        tag = child.tag
        if type(tag) is str:
            if tag.startswith(_MATHML_STARTS) or tag == "math":
                out.append(mathml_text(child))
            elif len(child) == 0:
                text = child.text
                if tag == "br" or tag == "BR":
                    out.append(" ")
                elif text:
                    if (tag == "u" or tag == "U") and text.strip() in _LE_GE:
                        # PubMed writes <= and >= as an underlined < or >.
                        out.append(_LE_GE[text.strip()])
                    else:
                        out.append(text)
            else:
                text = child.text
                if text:
                    out.append(text)
                stack.append((iter(child), child))
                continue  # its tail once its children are read
        elif tag is etree.Entity:
            # An entity the parser did not resolve (no DTD): decode it ourselves.
            out.append(html.unescape(child.text or ""))
        # Comments and processing instructions contribute nothing but their tail.
        tail = child.tail
        if tail:
            out.append(tail)


def element_text(el: etree._Element | None, *, keep_newlines: bool = False) -> str:
    """Clean text of an element with inline markup, in reading order.

    The element's own tail is not included (as with ``itertext``). Inline
    tags contribute their text; MathML goes through :func:`mathml_text`;
    the result goes through :func:`clean_text`.

    Args:
        el: An lxml element, or None.
        keep_newlines: Keep line breaks in the result.

    Returns:
        The cleaned text, ``""`` for None or an empty element.
    """
    if el is None:
        return ""
    if len(el) == 0:
        return clean_text(el.text, keep_newlines=keep_newlines)
    out: list[str] = []
    _append_text(el, out)
    return clean_text("".join(out), keep_newlines=keep_newlines)


def markup_to_text(markup: str, *, keep_newlines: bool = False) -> str:
    """Clean text of a markup fragment given as a string.

    The fragment may mix text, inline HTML tags and MathML (``mml:``
    prefixes with or without a namespace declaration). If it is not
    well-formed, literal tags from the inline list are stripped instead.

    Args:
        markup: The fragment, e.g. ``"x<sub>2</sub> &amp; y"``.
        keep_newlines: Keep line breaks in the result.

    Returns:
        The cleaned text.
    """
    if "<" not in markup:
        return clean_text(markup, keep_newlines=keep_newlines)
    wrapped = f'<x xmlns:mml="{MATHML_NS}">{markup}</x>'
    try:
        root = etree.fromstring(wrapped, parser=_FRAGMENT_PARSER)
    except etree.XMLSyntaxError:
        return clean_text(markup, keep_newlines=keep_newlines)
    return element_text(root, keep_newlines=keep_newlines)


_FRAGMENT_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)
