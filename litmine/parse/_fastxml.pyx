# cython: language_level=3
"""Compiled field extraction for ``PubmedArticle`` records (optional accelerator).

:func:`pubmed_article` returns exactly what
:func:`litmine.parse.pubmed_xml._pubmed_article` returns for the same
element, but it reads libxml2's node structs directly instead of going
through an lxml proxy object per element, tag and text: on the ingest hot
path those proxies cost more than the rest of the parse together. The
Python function stays the reference: whatever this module does not handle
(an unresolved entity in an attribute value, a malformed record) raises
:class:`Unsupported` or the record's own error, and the caller then reads
the record with the Python code, which also words any error.

Only the public, ABI-stable part of libxml2's ``xmlNode``/``xmlAttr``/
``xmlNs`` structs is read, and lxml's element layout (its public
``lxml.etree.h``, for the node an element stands for); :func:`_self_check`
verifies both on import, and
:data:`AVAILABLE` is False when they do not match, so a future lxml or
libxml2 can only switch the accelerator off, never make it read garbage.
No libxml2 function is called and nothing is linked against it.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.string cimport strchr, strcmp, strlen, strncmp

import html

from lxml import etree

from litmine.parse.dates import month_number, parse_free_date, safe_date
from litmine.parse.text import (
    _FUNCTION_NAMES,
    _LE_GE,
    _OVER_ACCENTS,
    _SCRIPTED,
    _SILENT,
    _TOKENS,
    _UNDER_ACCENTS,
    MATHML_NS,
    ascii_printable,
    clean_text,
)
from litmine.types import (
    AbstractSection,
    Article,
    ArticleSource,
    Author,
    Chemical,
    CommentCorrection,
    MeshHeading,
    MeshQualifier,
    PubDate,
)

cdef extern from *:
    """
    /* Leading members of libxml2's public structs (<libxml/tree.h>); their
       order and types have not changed since libxml2 2.0. Only read. */
    typedef struct _lmNs {
        struct _lmNs *next;
        int type;
        const char *href;
        const char *prefix;
    } lmNs;
    typedef struct _lmNode {
        void *_private;
        int type;
        const char *name;
        struct _lmNode *children;
        struct _lmNode *last;
        struct _lmNode *parent;
        struct _lmNode *next;
        struct _lmNode *prev;
        void *doc;
        lmNs *ns;
        const char *content;
        struct _lmAttr *properties;
    } lmNode;
    typedef struct _lmAttr {
        void *_private;
        int type;
        const char *name;
        struct _lmNode *children;
        struct _lmNode *last;
        struct _lmNode *parent;
        struct _lmAttr *next;
        struct _lmAttr *prev;
        void *doc;
        lmNs *ns;
    } lmAttr;
    /* lxml's element proxy (struct LxmlElement in lxml.etree.h). */
    typedef struct {
        PyObject_HEAD
        PyObject *_doc;
        lmNode *_c_node;
        PyObject *_tag;
    } lmElement;
    """
    ctypedef struct lmNs:
        const char *href
    ctypedef struct lmAttr
    ctypedef struct lmNode:
        int type
        const char *name
        lmNode *children
        lmNode *next
        lmNs *ns
        const char *content
        lmAttr *properties
    ctypedef struct lmAttr:
        const char *name
        lmNode *children
        lmAttr *next
        lmNs *ns
    ctypedef struct lmElement:
        void *_doc
        lmNode *_c_node

__all__ = ["AVAILABLE", "Unsupported", "abi_problem", "drop_unread", "pubmed_article"]

# xmlElementType values
cdef enum:
    ELEMENT = 1
    TEXT = 3
    CDATA = 4
    ENTITY_REF = 5
    PI = 7
    COMMENT = 8
    XINCLUDE_START = 19
    XINCLUDE_END = 20


class Unsupported(Exception):
    """The record uses something only the Python reader handles."""


cdef bytes _MATHML_HREF = MATHML_NS.encode()
# Set from pubmed_xml at import (see _init), which imports this module: one
# definition each, shared with the Python reader.
cdef object _ORCID_RE = None
cdef object _SKIPPED_REF_TYPES = None
cdef object _int = None  # pubmed_xml._int: stripped decimal text -> int, else None
cdef object _PUBMED_XML = ArticleSource.PUBMED_XML
cdef object _unescape = html.unescape


# ---------------------------------------------------------------------------
# Node helpers: what lxml's element API answers, read from the structs
# ---------------------------------------------------------------------------


cdef inline lmNode* _node_of(object elem) except NULL:
    cdef lmNode* node = (<lmElement*><void*>elem)._c_node
    if node is NULL:
        raise Unsupported("element without a node")
    return node


cdef inline bint _is(lmNode* node, const char* name) noexcept:
    """``node.tag == name`` for an element without a namespace."""
    return node.type == ELEMENT and node.ns is NULL and strcmp(node.name, name) == 0


cdef inline bint _is_element_like(lmNode* node) noexcept:
    """What lxml counts as a child (``len()`` and iteration)."""
    cdef int t = node.type
    return t == ELEMENT or t == COMMENT or t == ENTITY_REF or t == PI


cdef inline bint _has_children(lmNode* node) noexcept:
    """``len(el) > 0``."""
    cdef lmNode* c = node.children
    while c is not NULL:
        if _is_element_like(c):
            return True
        c = c.next
    return False


cdef inline str _decode(const char* s):
    return PyUnicode_DecodeUTF8(s, strlen(s), NULL)


cdef object _collect_text(lmNode* c):
    """lxml's ``_collectText``: text and CDATA nodes from ``c`` on, None when there are none."""
    while c is not NULL and (c.type == XINCLUDE_START or c.type == XINCLUDE_END):
        c = c.next
    if c is NULL or not (c.type == TEXT or c.type == CDATA):
        return None
    cdef lmNode* n = c.next
    while n is not NULL and (n.type == XINCLUDE_START or n.type == XINCLUDE_END):
        n = n.next
    if n is NULL or not (n.type == TEXT or n.type == CDATA):
        return _decode(c.content) if c.content is not NULL else ""
    cdef list parts = []
    while c is not NULL:
        if c.type == TEXT or c.type == CDATA:
            if c.content is not NULL:
                parts.append(_decode(c.content))
        elif not (c.type == XINCLUDE_START or c.type == XINCLUDE_END):
            break
        c = c.next
    return "".join(parts)


cdef inline object _text_of(lmNode* node):
    """``el.text``."""
    return _collect_text(node.children)


cdef object _get(lmNode* node, const char* name):
    """``el.get(name)`` for an attribute without a namespace."""
    cdef lmAttr* attr = node.properties
    cdef lmNode* value
    while attr is not NULL:
        if attr.ns is NULL and strcmp(attr.name, name) == 0:
            value = attr.children
            if value is NULL:
                return ""
            if value.next is NULL and (value.type == TEXT or value.type == CDATA):
                return _decode(value.content) if value.content is not NULL else ""
            raise Unsupported("attribute value with entity references")
        attr = attr.next
    return None


cdef inline bint _ascii_plain(const char* s, Py_ssize_t* start, Py_ssize_t* end) noexcept:
    """Printable ASCII without ``&``, ``<`` or a double space: bounds without edge spaces."""
    cdef Py_ssize_t i = 0
    cdef unsigned char ch, prev = 0
    while True:
        ch = <unsigned char>s[i]
        if ch == 0:
            break
        if ch < 0x20 or ch > 0x7E or ch == 38 or ch == 60 or (ch == 32 and prev == 32):
            return False
        prev = ch
        i += 1
    cdef Py_ssize_t a = 0, b = i
    while a < b and s[a] == 32:
        a += 1
    while b > a and s[b - 1] == 32:
        b -= 1
    start[0] = a
    end[0] = b
    return True


cdef str _text(lmNode* el):
    """``pubmed_xml._text``: clean text of a field element."""
    cdef Py_ssize_t a, b
    cdef lmNode* c
    if _has_children(el):
        return _element_text(el)
    c = el.children
    if c is not NULL and (c.type == TEXT or c.type == CDATA) and c.next is NULL:
        if c.content is NULL or c.content[0] == 0:
            return ""
        if _ascii_plain(c.content, &a, &b):
            return PyUnicode_DecodeASCII(c.content + a, b - a, NULL)
    text = _collect_text(c)
    if not text:
        return ""
    if (
        text.isascii()
        and "&" not in text
        and "<" not in text
        and (text.isprintable() if len(text) < 64 else ascii_printable(text))
    ):
        return text.strip() if "  " not in text else " ".join(text.split())
    return clean_text(text)


cdef object _plain(lmNode* el):
    """``pubmed_xml._plain``: stripped text of a leaf element, None when empty."""
    text = _text_of(el)
    if text is None:
        return None
    return text.strip() or None


# ---------------------------------------------------------------------------
# Inline markup (text.element_text / _append_text); MathML goes to text.mathml_text
# ---------------------------------------------------------------------------


cdef bint _is_mathml(lmNode* node):
    """``tag.startswith(("{MathML}", "mml:")) or tag == "math"``."""
    if node.ns is not NULL and node.ns.href is not NULL:
        return strcmp(node.ns.href, _MATHML_HREF) == 0
    return strncmp(node.name, b"mml:", 4) == 0 or strcmp(node.name, b"math") == 0


cdef void _append_text(lmNode* el, list out) except *:
    cdef lmNode* child
    cdef bint plain
    text = _text_of(el)
    if text:
        out.append(text)
    child = el.children
    while child is not NULL:
        if child.type == ELEMENT:
            plain = child.ns is NULL or child.ns.href is NULL
            if _is_mathml(child):
                out.append(_mathml_text(child))
            elif not _has_children(child):
                text = _text_of(child)
                if plain and (strcmp(child.name, b"br") == 0 or strcmp(child.name, b"BR") == 0):
                    out.append(" ")
                elif text:
                    if (
                        plain
                        and (strcmp(child.name, b"u") == 0 or strcmp(child.name, b"U") == 0)
                        and text.strip() in _LE_GE
                    ):
                        out.append(_LE_GE[text.strip()])
                    else:
                        out.append(text)
            else:
                _append_text(child, out)
        elif child.type == ENTITY_REF:
            out.append(_unescape("&" + _decode(child.name) + ";"))
        elif not (child.type == COMMENT or child.type == PI):
            child = child.next  # text nodes are not children (they are text or tails)
            continue
        tail = _collect_text(child.next)
        if tail:
            out.append(tail)
        child = child.next


# ---------------------------------------------------------------------------
# MathML (text.mathml_text and the functions under it, same rules)
# ---------------------------------------------------------------------------

cdef frozenset _FUNCTIONS = frozenset(_FUNCTION_NAMES)
cdef dict _OVER = dict(_OVER_ACCENTS)
cdef dict _UNDER = dict(_UNDER_ACCENTS)


cdef str _local_name(lmNode* node):
    """``text._local(el.tag)``: the name without namespace or prefix."""
    cdef const char* name = node.name
    cdef const char* colon
    if node.ns is not NULL and node.ns.href is not NULL:
        return _decode(name)
    colon = strchr(name, 58)  # ':'
    return _decode(colon + 1 if colon is not NULL else name)


cdef list _kids(lmNode* el):
    """Element children; anything but elements and text makes the record Unsupported."""
    cdef list kids = []
    cdef lmNode* c = el.children
    while c is not NULL:
        if c.type == ELEMENT:
            kids.append(<size_t>c)
        elif _is_element_like(c):
            raise Unsupported("comment, PI or entity inside MathML")
        c = c.next
    return kids


cdef void _itertext_into(lmNode* el, list out) except *:
    cdef lmNode* c = el.children
    while c is not NULL:
        if c.type == TEXT or c.type == CDATA:
            if c.content is not NULL:
                out.append(_decode(c.content))
        elif c.type == ELEMENT:
            _itertext_into(c, out)
        elif _is_element_like(c):
            raise Unsupported("comment, PI or entity inside MathML")
        c = c.next


cdef str _itertext(lmNode* el):
    cdef list out = []
    _itertext_into(el, out)
    return "".join(out)


cdef str _math_wrap(str part):
    if len(part) <= 1 or part.replace(".", "").isalnum():
        return part
    return f"({part})"


cdef inline lmNode* _kid(list kids, Py_ssize_t i):
    return <lmNode*><size_t>kids[i]


cdef str _math_render(lmNode* el):
    cdef str name = _local_name(el)
    cdef str text, collapsed, lead, trail, base, script, num, den, inner, index, open_, close, seps
    cdef list kids, parts, post, pre, target
    cdef Py_ssize_t i
    if name in _TOKENS:
        if not _has_children(el):
            t = _text_of(el)
            return " ".join(t.split()) if t else ""
        return " ".join(_itertext(el).split())
    if name == "mtext":
        text = _itertext(el)
        if not text:
            return ""
        collapsed = " ".join(text.split())
        if not collapsed:
            return " "
        lead = " " if text[0].isspace() else ""
        trail = " " if text[-1].isspace() else ""
        return lead + collapsed + trail
    if name == "mspace":
        return " "
    if name in _SILENT:
        return ""
    if name == "mglyph":
        return _get(el, b"alt") or ""
    kids = _kids(el)
    if name == "semantics" or name == "maction":
        return _math_render(_kid(kids, 0)) if kids else ""
    if name == "mfrac" and len(kids) == 2:
        num = _math_render(_kid(kids, 0)).strip()
        den = _math_render(_kid(kids, 1)).strip()
        return f"{_math_wrap(num)}/{_math_wrap(den)}"
    if name == "msqrt":
        inner = "".join([_math_render(_kid(kids, i)) for i in range(len(kids))]).strip()
        return "\u221a" + _math_wrap(inner)
    if name == "mroot" and len(kids) == 2:
        base = _math_render(_kid(kids, 0)).strip()
        index = _math_render(_kid(kids, 1)).strip()
        return f"{index}\u221a{_math_wrap(base)}"
    if (name == "mover" or name == "munder") and len(kids) == 2:
        base = _math_render(_kid(kids, 0))
        script = _math_render(_kid(kids, 1)).strip()
        mark = (_OVER if name == "mover" else _UNDER).get(script)
        if mark and base.strip():
            return base.rstrip() + mark
        return base + script
    if name == "munderover" and len(kids) == 3:
        return "".join([_math_render(_kid(kids, i)) for i in range(3)])
    if name == "mmultiscripts" and kids:
        base = _math_render(_kid(kids, 0))
        post = []
        pre = []
        target = post
        for i in range(1, len(kids)):
            if _local_name(_kid(kids, i)) == "mprescripts":
                target = pre
                continue
            target.append(_math_render(_kid(kids, i)))
        return "".join(pre) + base + "".join(post)
    if name == "mfenced":
        open_ = _get(el, b"open")
        close = _get(el, b"close")
        seps = _get(el, b"separators")
        if open_ is None:
            open_ = "("
        if close is None:
            close = ")"
        if seps is None:
            seps = ","
        seps = seps.replace(" ", "")
        parts = []
        for i in range(len(kids)):
            if i and seps:
                parts.append(seps[min(i - 1, len(seps) - 1)])
            parts.append(_math_render(_kid(kids, i)))
        return open_ + "".join(parts) + close
    if name == "mtable":
        return "; ".join([_math_render(_kid(kids, i)).strip() for i in range(len(kids))])
    if name == "mtr" or name == "mlabeledtr":
        return " ".join([_math_render(_kid(kids, i)).strip() for i in range(len(kids))])
    if name in _SCRIPTED:
        return "".join([_math_render(_kid(kids, i)) for i in range(len(kids))])
    return _math_row(kids)


cdef str _math_row(list kids):
    cdef list parts = []
    cdef bint pending_space = False
    cdef str text
    cdef Py_ssize_t i
    for i in range(len(kids)):
        text = _math_render(_kid(kids, i))
        if not text:
            continue
        if pending_space and text[0].isalnum():
            parts.append(" ")
        parts.append(text)
        pending_space = text in _FUNCTIONS
    return "".join(parts)


cdef str _mathml_text(lmNode* el):
    cdef str text = _math_render(el)
    if not text.strip():
        text = _get(el, b"alttext") or ""
    return text


cdef str _element_text(lmNode* el):
    cdef list out = []
    _append_text(el, out)
    return clean_text("".join(out))


# ---------------------------------------------------------------------------
# Fields (one function per function of pubmed_xml, same order and logic)
# ---------------------------------------------------------------------------


cdef object _date_of(lmNode* el):
    year = month = day = medline = None
    cdef lmNode* child = el.children
    while child is not NULL:
        if child.type == ELEMENT and child.ns is NULL:
            if strcmp(child.name, b"Year") == 0:
                year = _int(_text_of(child))
            elif strcmp(child.name, b"Month") == 0:
                month = month_number(_text_of(child))
            elif strcmp(child.name, b"Day") == 0:
                day = _int(_text_of(child))
                if day is not None and not 1 <= day <= 31:
                    day = None
            elif strcmp(child.name, b"MedlineDate") == 0:
                medline = _plain(child)
        child = child.next
    if year is None and medline:
        return parse_free_date(medline)
    return PubDate(year=year, month=month, day=day, medline_date=medline)


cdef tuple _abstract(lmNode* el):
    cdef list sections = []
    cdef list parts = []
    cdef Py_ssize_t offset = 0
    cdef lmNode* child = el.children
    while child is not NULL:
        if _is(child, b"AbstractText"):
            text = _text(child)
            if text:
                label = _get(child, b"Label")
                if label is not None:
                    label = " ".join(label.split()) or None
                    if label is not None and label.upper() == "UNLABELLED":
                        label = None
                if parts:
                    offset += 1
                sections.append(
                    AbstractSection(text, label, _get(child, b"NlmCategory") or None, offset)
                )
                parts.append(text)
                offset += len(text)
        child = child.next
    return "\n".join(parts), sections


cdef object _author(lmNode* au):
    last = fore = initials = collective = orcid = None
    cdef list affiliations = []
    cdef lmNode* child = au.children
    cdef lmNode* sub
    while child is not NULL:
        if child.type == ELEMENT and child.ns is NULL:
            name = child.name
            if strcmp(name, b"LastName") == 0:
                last = _text(child) or None
            elif strcmp(name, b"ForeName") == 0:
                fore = _text(child) or None
            elif strcmp(name, b"Initials") == 0:
                initials = _plain(child)
            elif strcmp(name, b"AffiliationInfo") == 0:
                sub = child.children
                while sub is not NULL:
                    if _is(sub, b"Affiliation"):
                        aff = _text(sub)
                        if aff:
                            affiliations.append(aff)
                    sub = sub.next
            elif strcmp(name, b"CollectiveName") == 0:
                collective = _text(child) or None
            elif strcmp(name, b"Identifier") == 0 and (
                (_get(child, b"Source") or "").upper() == "ORCID"
            ):
                match = _ORCID_RE.search(_text_of(child) or "")
                if match:
                    orcid = match.group(1).upper()
        child = child.next
    if not (last or fore or collective):
        return None
    return Author(last, fore, initials, collective, affiliations, orcid)


cdef list _authors(lmNode* el):
    cdef list authors = []
    cdef lmNode* au = el.children
    while au is not NULL:
        if _is(au, b"Author") and _get(au, b"ValidYN") != "N":
            author = _author(au)
            if author is not None:
                authors.append(author)
        au = au.next
    return authors


cdef list _mesh(lmNode* el):
    cdef list headings = []
    cdef list qualifiers
    cdef lmNode* mh = el.children
    cdef lmNode* child
    while mh is not NULL:
        if _is(mh, b"MeshHeading"):
            heading = None
            qualifiers = []
            child = mh.children
            while child is not NULL:
                if _is(child, b"DescriptorName"):
                    heading = MeshHeading(
                        _get(child, b"UI"),
                        _text(child),
                        _get(child, b"MajorTopicYN") == "Y",
                        qualifiers,
                    )
                elif _is(child, b"QualifierName"):
                    qualifiers.append(
                        MeshQualifier(
                            _get(child, b"UI"), _text(child), _get(child, b"MajorTopicYN") == "Y"
                        )
                    )
                child = child.next
            if heading is not None:
                headings.append(heading)
        mh = mh.next
    return headings


cdef list _chemicals(lmNode* el):
    cdef list chemicals = []
    cdef lmNode* chem = el.children
    cdef lmNode* child
    while chem is not NULL:
        if _is(chem, b"Chemical"):
            name = ui = registry = None
            child = chem.children
            while child is not NULL:
                if _is(child, b"NameOfSubstance"):
                    name = _text(child)
                    ui = _get(child, b"UI")
                elif _is(child, b"RegistryNumber"):
                    registry = _plain(child)
                child = child.next
            if name:
                chemicals.append(Chemical(name, ui, None if registry == "0" else registry))
        chem = chem.next
    return chemicals


cdef list _comments(lmNode* el):
    cdef list links = []
    cdef lmNode* cc = el.children
    cdef lmNode* child
    while cc is not NULL:
        if _is(cc, b"CommentsCorrections"):
            ref_type = _get(cc, b"RefType") or ""
            if ref_type not in _SKIPPED_REF_TYPES:
                pmid = source = None
                child = cc.children
                while child is not NULL:
                    if _is(child, b"RefSource"):
                        source = _text(child) or None
                    elif _is(child, b"PMID"):
                        pmid = _plain(child)
                    child = child.next
                links.append(CommentCorrection(ref_type, pmid, source))
        cc = cc.next
    return links


cdef void _pubmed_data(lmNode* el, object article) except *:
    cdef lmNode* child = el.children
    cdef lmNode* sub
    cdef lmNode* entrez
    cdef lmNode* pubmed
    cdef lmNode* ppd
    cdef int i
    while child is not NULL:
        if _is(child, b"History"):
            entrez = pubmed = NULL
            sub = child.children
            while sub is not NULL:
                if _is(sub, b"PubMedPubDate"):
                    status = _get(sub, b"PubStatus")
                    if status == "entrez" and entrez is NULL:
                        entrez = sub
                    elif status == "pubmed" and pubmed is NULL:
                        pubmed = sub
                sub = sub.next
            for i in range(2):
                ppd = entrez if i == 0 else pubmed
                if ppd is not NULL:
                    pd = _date_of(ppd)
                    day = safe_date(pd.year, pd.month, pd.day)
                    if day is not None:
                        article.entrez_date = day
                        break
        elif _is(child, b"ArticleIdList"):
            sub = child.children
            while sub is not NULL:
                if _is(sub, b"ArticleId"):
                    kind = _get(sub, b"IdType")
                    if kind == "doi":
                        if article.doi is None:
                            article.doi = _plain(sub)
                    elif kind == "pmc" and article.pmc_id is None:
                        article.pmc_id = _plain(sub)
                sub = sub.next
        child = child.next


cdef void _keywords(lmNode* el, list out) except *:
    cdef lmNode* kw = el.children
    while kw is not NULL:
        if _is(kw, b"Keyword"):
            word = _text(kw)
            if word and word not in out:
                out.append(word)
        kw = kw.next


cdef void _journal(lmNode* el, object article) except *:
    cdef lmNode* child = el.children
    cdef lmNode* sub
    while child is not NULL:
        if _is(child, b"Title"):
            article.journal = _text(child) or None
        elif _is(child, b"ISOAbbreviation"):
            article.journal_iso = _text(child) or None
        elif _is(child, b"JournalIssue"):
            sub = child.children
            while sub is not NULL:
                if _is(sub, b"PubDate"):
                    article.pub_date = _date_of(sub)
                sub = sub.next
        child = child.next


cdef tuple _article_element(lmNode* el, object article):
    article_date = None
    vernacular = ""
    elocation_doi = None
    cdef lmNode* child = el.children
    cdef lmNode* sub
    while child is not NULL:
        if child.type == ELEMENT and child.ns is NULL:
            name = child.name
            if strcmp(name, b"ArticleTitle") == 0:
                article.title = _text(child)
            elif strcmp(name, b"Abstract") == 0:
                article.abstract, article.sections = _abstract(child)
            elif strcmp(name, b"AuthorList") == 0:
                article.authors = _authors(child)
            elif strcmp(name, b"Journal") == 0:
                _journal(child, article)
            elif strcmp(name, b"Language") == 0:
                lang = _plain(child)
                if lang:
                    article.languages.append(lang)
            elif strcmp(name, b"PublicationTypeList") == 0:
                types = []
                sub = child.children
                while sub is not NULL:
                    if _is(sub, b"PublicationType"):
                        t = _text(sub)
                        if t:
                            types.append(t)
                    sub = sub.next
                article.publication_types = types
            elif strcmp(name, b"ELocationID") == 0:
                if (
                    _get(child, b"EIdType") == "doi"
                    and _get(child, b"ValidYN") != "N"
                    and not elocation_doi
                ):
                    elocation_doi = _plain(child)
            elif strcmp(name, b"ArticleDate") == 0:
                if article_date is None:
                    article_date = _date_of(child)
            elif strcmp(name, b"VernacularTitle") == 0:
                vernacular = _text(child)
        child = child.next
    if not article.title and vernacular:
        article.title = vernacular
    return article_date, elocation_doi


cdef tuple _read_pmid(lmNode* el):
    pmid = _plain(el)
    if not pmid:
        raise ValueError("empty PMID")
    if not (pmid.isascii() and pmid.isdigit()):
        raise ValueError(f"PMID {pmid!r} is not a number")
    return pmid, _int(_get(el, b"Version")) or 1


def pubmed_article(elem):
    """``PubmedArticle`` element -> Article, as ``pubmed_xml._pubmed_article`` reads it.

    Args:
        elem: The lxml element of the record.

    Returns:
        The Article.

    Raises:
        Unsupported: The record needs the Python reader.
        ValueError: The record is malformed (the Python reader words the error).
    """
    cdef lmNode* root = _node_of(elem)
    cdef lmNode* child = root.children
    cdef lmNode* citation = NULL
    cdef lmNode* data = NULL
    cdef lmNode* sub
    cdef bint has_article = False
    while child is not NULL:
        if _is(child, b"MedlineCitation"):
            citation = child
        elif _is(child, b"PubmedData"):
            data = child
        child = child.next
    if citation is NULL:
        raise ValueError("no MedlineCitation")
    article = None
    article_date = None
    elocation_doi = None
    keywords = []
    child = citation.children
    while child is not NULL:
        if child.type == ELEMENT and child.ns is NULL:
            name = child.name
            if strcmp(name, b"PMID") == 0:
                pmid, version = _read_pmid(child)
                article = Article(pmid=pmid, version=version, source=_PUBMED_XML)
            elif article is None:
                pass
            elif strcmp(name, b"Article") == 0:
                has_article = True
                article_date, elocation_doi = _article_element(child, article)
            elif strcmp(name, b"MeshHeadingList") == 0:
                article.mesh_headings = _mesh(child)
            elif strcmp(name, b"ChemicalList") == 0:
                article.chemicals = _chemicals(child)
            elif strcmp(name, b"KeywordList") == 0:
                _keywords(child, keywords)
            elif strcmp(name, b"CommentsCorrectionsList") == 0:
                article.comments_corrections = _comments(child)
            elif strcmp(name, b"MedlineJournalInfo") == 0 and article.journal_iso is None:
                sub = child.children
                while sub is not NULL:
                    if _is(sub, b"MedlineTA"):
                        article.journal_iso = _plain(sub)
                    sub = sub.next
        child = child.next
    if article is None:
        raise ValueError("no PMID in MedlineCitation")
    if not has_article:
        raise ValueError("MedlineCitation has no Article element")
    article.keywords = keywords
    if data is not NULL:
        _pubmed_data(data, article)
    if article.pub_date.year is None and article_date is not None and article_date.year:
        article.pub_date = article_date
    if article.doi is None:
        article.doi = elocation_doi
    return article


# ---------------------------------------------------------------------------
# Set-up: a check that the structs read right
# ---------------------------------------------------------------------------


def _self_check():
    """True when the struct layouts match the running lxml/libxml2."""
    root = etree.fromstring(
        b'<r a="1"><x:m xmlns:x="urn:t">t<i>u</i>v</x:m><![CDATA[c]]></r>'
    )
    cdef lmNode* node = _node_of(root)
    if strcmp(node.name, b"r") != 0 or node.ns is not NULL or _get(node, b"a") != "1":
        return False
    cdef lmNode* child = node.children
    if child is NULL or child.type != ELEMENT or strcmp(child.name, b"m") != 0:
        return False
    if child.ns is NULL or strcmp(child.ns.href, b"urn:t") != 0:
        return False
    if _text_of(child) != "t" or _collect_text(child.next) != "c":
        return False
    if child.children is NULL or child.children.next is NULL:
        return False
    if _text(child.children.next) != "u" or _element_text(child) != "tuv":
        return False
    return True


# The libxml2 releases (major, minor; inclusive) whose xmlNode/xmlAttr/xmlNs
# layouts the structs above were checked against, and the lxml major versions
# whose element layout (lxml.etree.h) they match. Another version may lay its
# structs out differently in ways the small self-check cannot see, so it
# switches the accelerator off until it has been checked (the equivalence
# tests in tests/parse/test_fastxml.py) and added here.
TESTED_LIBXML2 = ((2, 10), (2, 14))
TESTED_LXML = (5, 6)


def abi_problem():
    """Why the running lxml/libxml2 are not the ones this module reads, or None."""
    lxml_version = tuple(etree.LXML_VERSION)
    running = tuple(etree.LIBXML_VERSION)
    compiled = tuple(etree.LIBXML_COMPILED_VERSION)
    if running[:2] != compiled[:2]:
        return (
            f"lxml was compiled against libxml2 {'.'.join(map(str, compiled))} but runs "
            f"{'.'.join(map(str, running))}"
        )
    if not TESTED_LIBXML2[0] <= running[:2] <= TESTED_LIBXML2[1]:
        low, high = ('.'.join(map(str, v)) for v in TESTED_LIBXML2)
        return f"libxml2 {'.'.join(map(str, running))} is outside the checked {low}-{high}"
    if lxml_version[0] not in TESTED_LXML:
        return f"lxml {'.'.join(map(str, lxml_version))} is not a checked major version"
    return None


def _init():
    global _ORCID_RE, _SKIPPED_REF_TYPES, _int
    import logging

    from litmine.parse import pubmed_xml

    _ORCID_RE = pubmed_xml._ORCID_RE
    _SKIPPED_REF_TYPES = pubmed_xml._SKIPPED_REF_TYPES
    _int = pubmed_xml._int
    problem = abi_problem()
    if problem is None:
        try:
            if _self_check():
                return True
            problem = "libxml2's node structs do not read as expected"
        except Exception as exc:
            problem = f"the struct check failed ({exc})"
    logging.getLogger("litmine.parse").warning(
        "litmine: compiled PubMed XML extractor off (%s); using the Python reader", problem
    )
    return False


AVAILABLE = _init()


# ---------------------------------------------------------------------------
# Unread elements cut from the bytes before libxml2 parses them
# ---------------------------------------------------------------------------

cdef extern from "string.h":
    void* memmem(const void* haystack, size_t haystacklen, const void* needle, size_t needlelen)
    void* memchr(const void* s, int c, size_t n)
    int memcmp(const void* a, const void* b, size_t n)
    void* memcpy(void* dest, const void* src, size_t n)
    void* memset(void* s, int c, size_t n)

cdef const char* _CITES = b'<CommentsCorrections RefType="Cites">'


cdef inline bint _at(const char* p, const char* end, const char* word, size_t n) noexcept:
    return <size_t>(end - p) >= n and memcmp(p, word, n) == 0


cdef inline bint _name_start(unsigned char c) noexcept:
    return (65 <= c <= 90) or (97 <= c <= 122) or c == 95


cdef inline bint _name_char(unsigned char c) noexcept:
    return _name_start(c) or (48 <= c <= 57) or c == 45 or c == 46


cdef inline bint _blank(unsigned char c) noexcept:
    return c == 32 or c == 9 or c == 10 or c == 13


cdef inline bint _xml_char(unsigned long v) noexcept:
    return (
        v == 9 or v == 10 or v == 13 or (0x20 <= v <= 0xD7FF) or (0xE000 <= v <= 0xFFFD)
        or (0x10000 <= v <= 0x10FFFF)
    )


cdef const unsigned char* _reference(const unsigned char* q, const unsigned char* end) noexcept:
    """Past a well-formed ``&...;`` at ``q`` (predefined entity or character), or NULL."""
    cdef const unsigned char* r = q + 1
    cdef unsigned long v = 0
    cdef int digits = 0
    if r < end and r[0] == 35:  # &#
        r += 1
        if r < end and r[0] == 120:  # &#x
            r += 1
            while r < end and digits < 8:
                if 48 <= r[0] <= 57:
                    v = v * 16 + (r[0] - 48)
                elif 97 <= r[0] <= 102:
                    v = v * 16 + (r[0] - 87)
                elif 65 <= r[0] <= 70:
                    v = v * 16 + (r[0] - 55)
                else:
                    break
                r += 1
                digits += 1
        else:
            while r < end and 48 <= r[0] <= 57 and digits < 8:
                v = v * 10 + (r[0] - 48)
                r += 1
                digits += 1
        if digits == 0 or r >= end or r[0] != 59 or not _xml_char(v):
            return NULL
        return r + 1
    for word in (b"amp;", b"lt;", b"gt;", b"quot;", b"apos;"):
        if _at(<const char*>r, <const char*>end, word, len(word)):
            return r + len(word)
    return NULL


cdef const unsigned char* _char(const unsigned char* q, const unsigned char* end) noexcept:
    """Past one well-formed character of text at ``q`` (UTF-8, an XML Char), or NULL."""
    cdef unsigned char c = q[0]
    cdef unsigned long v
    cdef int n, i
    if c < 0x80:
        return q + 1 if (c >= 0x20 or c == 9 or c == 10 or c == 13) else NULL
    if 0xC2 <= c <= 0xDF:
        n, v = 1, c & 0x1F
    elif 0xE0 <= c <= 0xEF:
        n, v = 2, c & 0x0F
    elif 0xF0 <= c <= 0xF4:
        n, v = 3, c & 0x07
    else:
        return NULL
    if end - q <= n:
        return NULL
    for i in range(1, n + 1):
        if q[i] & 0xC0 != 0x80:
            return NULL
        v = (v << 6) | (q[i] & 0x3F)
    # overlong forms and surrogates are not UTF-8; U+FFFE/U+FFFF are not XML
    if (n == 2 and v < 0x800) or (n == 3 and v < 0x10000) or not _xml_char(v):
        return NULL
    return q + n + 1


cdef const char* _element_end(const char* span, const char* span_end) noexcept:
    """Past the end of the element at ``span`` when it is certainly well-formed, else NULL.

    A strict subset of XML, enough for what PubMed writes in a bibliography:
    ASCII names without prefixes, at most one attribute per tag, predefined
    entities and character references only, valid UTF-8 text. Whatever is
    outside it (including every kind of malformation, and an element that
    does not end before ``span_end``) answers NULL, and the element is then
    left for libxml2, which reports what is wrong as before.
    """
    cdef const unsigned char* q = <const unsigned char*>span
    cdef const unsigned char* end = <const unsigned char*>span_end
    cdef const unsigned char* name
    cdef const unsigned char* names[64]
    cdef Py_ssize_t lengths[64]
    cdef Py_ssize_t length
    cdef int depth = 0
    cdef int attributes
    cdef unsigned char quote
    while q < end:
        if q[0] == 60:  # <
            q += 1
            if q < end and q[0] == 47:  # end tag
                q += 1
                name = q
                while q < end and _name_char(q[0]):
                    q += 1
                length = q - name
                if depth == 0 or length != lengths[depth - 1]:
                    return NULL
                if memcmp(name, names[depth - 1], length) != 0:
                    return NULL
                while q < end and _blank(q[0]):
                    q += 1
                if q >= end or q[0] != 62:
                    return NULL
                q += 1
                depth -= 1
                if depth == 0:
                    return <const char*>q
                continue
            if q >= end or not _name_start(q[0]):
                return NULL
            name = q
            while q < end and _name_char(q[0]):
                q += 1
            length = q - name
            attributes = 0
            while True:
                if q >= end:
                    return NULL
                if q[0] == 62:  # >
                    if depth == 64:
                        return NULL
                    names[depth] = name
                    lengths[depth] = length
                    depth += 1
                    q += 1
                    break
                if q[0] == 47:  # />
                    if q + 1 >= end or q[1] != 62:
                        return NULL
                    q += 2
                    if depth == 0:  # the element is this empty tag
                        return <const char*>q
                    break
                if not _blank(q[0]):
                    return NULL
                while q < end and _blank(q[0]):
                    q += 1
                if q < end and (q[0] == 62 or q[0] == 47):
                    continue
                attributes += 1
                if attributes > 1 or q >= end or not _name_start(q[0]):
                    return NULL
                while q < end and _name_char(q[0]):
                    q += 1
                if q >= end or q[0] != 61:  # =
                    return NULL
                q += 1
                if q >= end or (q[0] != 34 and q[0] != 39):
                    return NULL
                quote = q[0]
                q += 1
                while q < end and q[0] != quote:
                    if q[0] == 60:
                        return NULL
                    q = _reference(q, end) if q[0] == 38 else _char(q, end)
                    if q is NULL:
                        return NULL
                if q >= end:
                    return NULL
                q += 1  # the closing quote
                if q < end and not (_blank(q[0]) or q[0] == 62 or q[0] == 47):
                    return NULL
        elif depth == 0:
            return NULL
        elif q[0] == 38:  # &
            q = _reference(q, end)
            if q is NULL:
                return NULL
        elif q[0] == 93 and _at(<const char*>q, <const char*>end, b"]]>", 3):
            return NULL
        else:
            # a run of plain ASCII text at once (most of it)
            while q < end and 0x20 <= q[0] < 0x80 and q[0] != 60 and q[0] != 38 and q[0] != 93:
                q += 1
            if q < end and (q[0] >= 0x80 or q[0] < 0x20):
                q = _char(q, end)
                if q is NULL:
                    return NULL
    return NULL


# Elements whose content is only elements (PubMed DTD): the whitespace
# between their children is layout, never words. Text elements (titles,
# abstract sections, names, keywords...) are not here and keep every byte.
cdef tuple _CONTAINERS = (
    b"PubmedArticle", b"MedlineCitation", b"Article", b"Journal", b"JournalIssue",
    b"PubDate", b"ArticleDate", b"DateCompleted", b"DateRevised", b"DateCreated",
    b"Pagination", b"Abstract", b"OtherAbstract", b"AuthorList", b"Author",
    b"AffiliationInfo", b"PublicationTypeList", b"MedlineJournalInfo", b"ChemicalList",
    b"Chemical", b"SupplMeshList", b"MeshHeadingList", b"MeshHeading", b"KeywordList",
    b"CommentsCorrectionsList", b"CommentsCorrections", b"DataBankList", b"DataBank",
    b"AccessionNumberList", b"PersonalNameSubjectList", b"PersonalNameSubject",
    b"PubmedData", b"History", b"PubMedPubDate", b"ArticleIdList",
)
cdef enum:
    _MAX_DEPTH = 256


cdef const char* _CONTAINER_NAMES[64]
cdef Py_ssize_t _CONTAINER_LENGTHS[64]
cdef int _CONTAINER_COUNT = len(_CONTAINERS)
for _i, _name in enumerate(_CONTAINERS):  # the tuple keeps the bytes alive
    _CONTAINER_NAMES[_i] = <const char*>_name
    _CONTAINER_LENGTHS[_i] = len(_name)


cdef bint _is_container(const char* name, Py_ssize_t length) noexcept:
    cdef int i
    for i in range(_CONTAINER_COUNT):
        if _CONTAINER_LENGTHS[i] == length and memcmp(_CONTAINER_NAMES[i], name, length) == 0:
            return True
    return False


cdef inline bint _cut_here(const char* p, const char* end) noexcept:
    return (
        _at(p, end, b"<ReferenceList>", 15)
        or _at(p, end, b"<ReferenceList/>", 16)
        or _at(p, end, _CITES, 37)
        or _at(p, end, b'<GrantList CompleteYN="Y">', 26)
        or _at(p, end, b'<GrantList CompleteYN="N">', 26)
        or _at(p, end, b"<GrantList>", 11)
        or _at(p, end, b"<InvestigatorList>", 18)
    )


cdef inline char* _copy(char* w, const char* start, const char* stop) noexcept:
    """Copy ``[start, stop)`` to ``w``; the position after it."""
    memcpy(w, start, stop - start)
    return w + (stop - start)


cdef inline Py_ssize_t _newlines(const char* p, const char* end) noexcept:
    cdef Py_ssize_t count = 0
    cdef const char* q = <const char*>memchr(p, 10, end - p)
    while q is not NULL:
        count += 1
        q = <const char*>memchr(q + 1, 10, end - q - 1)
    return count


def drop_unread(bytes data):
    """The chunk document without the parts the extractor never reads.

    Two kinds of parts go:

    * ``ReferenceList`` elements (the article's bibliography, nested lists
      included), ``CommentsCorrections`` entries of type ``Cites`` (the
      older form of the same), ``GrantList`` and ``InvestigatorList``: over a
      third of a typical record's bytes and nodes, and no field comes from
      them. Only the exact start tags PubMed writes are cut
      (``<ReferenceList>``, ``<CommentsCorrections RefType="Cites">``,
      ``<GrantList CompleteYN="Y">``...), and only when the element is
      certainly well-formed on its own (:func:`_element_end`), so a document
      is rejected, and at the same line, exactly when it would be without
      the cut.
    * Whitespace between the children of elements that hold only elements
      (:data:`_CONTAINERS`: the layout of pretty-printed files); libxml2
      would make a text node of each run.

    The line breaks removed inside a record are put back after its end tag,
    so every record starts on its line of the file, and the ends of chunks
    stay where they were. From a comment, CDATA section or processing
    instruction on (where a tag could be text), or a tag that does not end,
    the rest is left as it is.

    Args:
        data: A chunk document (see ``pubmed_xml.PubmedChunk``).

    Returns:
        The document to parse, which gives the same records.
    """
    cdef const char* start = data
    cdef Py_ssize_t n = len(data)
    cdef const char* end = start + n
    cdef const char* p
    cdef const char* q
    cdef const char* r
    cdef const char* name
    cdef const char* copied
    cdef bytearray out
    cdef char* w
    cdef char* w0
    cdef Py_ssize_t deferred = 0
    cdef int depth = 1  # inside the root element
    cdef bint containers[_MAX_DEPTH]
    # Content starts after the root start tag.
    p = <const char*>memmem(start, n, b"<PubmedArticleSet", 17)
    if p is NULL or memmem(start, p - start, b"<!--", 4) is not NULL:
        return data
    p = <const char*>memchr(p, 62, end - p)
    if p is NULL:
        return data
    p += 1
    containers[1] = False  # whitespace between records stays (with the deferred breaks)
    # (cut elements sit in containers, so nothing at the root level is cut either)
    out = bytearray(n)
    w = w0 = out
    w = _copy(w, start, p)
    copied = p
    while p < end:
        q = <const char*>memchr(p, 60, end - p)
        if q is NULL:
            break
        # text from p to q
        if q > p and depth >= 2 and containers[depth]:
            r = p
            while r < q and _blank(<unsigned char>r[0]):
                r += 1
            if r == q:  # only layout
                w = _copy(w, copied, p)
                deferred += _newlines(p, q)
                copied = q
        p = q
        if p + 1 >= end or p[1] == 33 or p[1] == 63:  # <! or <?: leave the rest
            break
        if p[1] == 47:  # end tag
            r = <const char*>memchr(p, 62, end - p)
            if r is NULL:
                break
            p = r + 1
            depth -= 1
            if depth < 1:
                break
            if depth == 1 and deferred:  # a record ended: its line breaks go back
                w = _copy(w, copied, p)
                memset(w, 10, deferred)
                w += deferred
                deferred = 0
                copied = p
            continue
        if containers[depth] and _cut_here(p, end):  # only where PubMed puts them
            r = _element_end(p, end)
            if r is not NULL:
                w = _copy(w, copied, p)
                deferred += _newlines(p, r)
                copied = p = r
                continue
        # a start tag: its name, then its end (quoted values may hold ">")
        name = p + 1
        r = name
        while r < end and not (_blank(<unsigned char>r[0]) or r[0] == 47 or r[0] == 62):
            r += 1
        q = r
        while r < end and r[0] != 62:
            if r[0] == 34 or r[0] == 39:
                r = <const char*>memchr(r + 1, r[0], end - r - 1)
                if r is NULL:
                    break
            r += 1
        if r is NULL or r >= end:
            break
        p = r + 1
        if r[-1] == 47:  # <.../>
            continue
        depth += 1
        if depth >= _MAX_DEPTH:
            break
        containers[depth] = _is_container(name, q - name)
    # The rest as it is, after the line breaks still owed: ``copied`` is
    # always a place between the children of a container (or of the root),
    # where a line break is only layout.
    memset(w, 10, deferred)
    w = _copy(w + deferred, copied, end)
    return PyBytes_FromStringAndSize(w0, w - w0)
