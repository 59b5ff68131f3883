# cython: language_level=3
"""Compiled inner loops for passage splitting (optional accelerator).

Each function here returns exactly what the pure-Python code it replaces in
:mod:`litmine.passages` returns; that code stays the reference and is used
whenever this module is not built.
"""

import re

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index)
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)

__all__ = ["pack_spans", "sentence_spans", "token_estimate"]

# 1 for a word character, 2 for whitespace, 0 for anything else (punctuation),
# for every ASCII code, exactly as Python's re classes \w and \s see them.
cdef unsigned char _CLASS[128]
for _b in range(128):
    _CLASS[_b] = 1 if re.match(r"\w", chr(_b)) else (2 if re.match(r"\s", chr(_b)) else 0)


cdef inline unsigned char _kind_of(Py_UCS4 ch) noexcept:
    if ch < 128:
        return _CLASS[ch]
    # What re's \w and \s test for str patterns (SRE_UNI_IS_WORD / _IS_SPACE).
    if Py_UNICODE_ISALNUM(ch):
        return 1
    return 2 if Py_UNICODE_ISSPACE(ch) else 0


cdef Py_ssize_t _estimate(int kind, void* data, Py_ssize_t s, Py_ssize_t e) noexcept:
    """:func:`token_estimate` of ``text[s:e]``, without the slice."""
    cdef Py_ssize_t i, run = 0, tokens = 0
    cdef unsigned char cls
    for i in range(s, e):
        cls = _kind_of(PyUnicode_READ(kind, data, i))
        if cls == 1:
            run += 1
            continue
        if run:
            tokens += (run + 3) >> 2
            run = 0
        if cls == 0:
            tokens += 1
    if run:
        tokens += (run + 3) >> 2
    return tokens


def token_estimate(str text):
    """``passages.estimate_tokens``: what ``re.subn(r"\w{1,4}|[^\w\s]", "", text)`` counts.

    Each run of word characters counts ``ceil(n / 4)`` and every other
    non-space character one.

    Args:
        text: Any string.

    Returns:
        The estimated word-piece count.
    """
    return _estimate(PyUnicode_KIND(text), PyUnicode_DATA(text), 0, PyUnicode_GET_LENGTH(text))


cdef inline bint _isspace(Py_UCS4 ch) noexcept:
    return _CLASS[ch] == 2 if ch < 128 else Py_UNICODE_ISSPACE(ch)


cdef inline (Py_ssize_t, Py_ssize_t) _trim(int kind, void* data, Py_ssize_t s,
                                          Py_ssize_t e) noexcept:
    """``passages._trim``: ``[s, e)`` without whitespace at either end."""
    while s < e and _isspace(PyUnicode_READ(kind, data, s)):
        s += 1
    while e > s and _isspace(PyUnicode_READ(kind, data, e - 1)):
        e -= 1
    return s, e


cdef inline bint _starts_sentence(Py_UCS4 ch) noexcept:
    return (48 <= ch <= 57) or (65 <= ch <= 90)  # [A-Z0-9]


def sentence_spans(str text, abbreviations, dotted):
    """``passages.regex_sentences`` with its boundary regex scanned in C.

    The boundary is ``passages._BOUNDARY_RE``: a line break (with the
    whitespace after it), or ``.``, ``!`` or ``?`` plus closing quotes or
    brackets, then whitespace, before an optional opening quote or bracket
    and a capital or digit. A mark after an abbreviation does not count.

    Args:
        text: Text to split.
        abbreviations: Lower-cased words that a period does not end
            (``passages._ABBREVIATIONS``).
        dotted: The dotted-acronym pattern (``passages._DOTTED_RE``).

    Returns:
        ``(start, end)`` offsets of the sentences, whitespace trimmed, in order.
    """
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef Py_ssize_t p = 0, q, k, start = 0, s, e
    cdef Py_UCS4 ch, c
    cdef list spans = []
    cdef list out = []
    cdef bint ok
    while p < n:
        ch = PyUnicode_READ(kind, data, p)
        if ch == 10:  # "\n": always a boundary, with the whitespace after it
            q = p + 1
            while q < n and _isspace(PyUnicode_READ(kind, data, q)):
                q += 1
            spans.append((start, p))
            start = p = q
            continue
        if ch == 46 or ch == 33 or ch == 63:  # . ! ?
            q = p + 1
            while q < n:
                c = PyUnicode_READ(kind, data, q)
                if c == 34 or c == 39 or c == 0x201D or c == 0x2019 or c == 41 or c == 93:
                    q += 1  # closing " ' ” ’ ) ]
                else:
                    break
            k = q
            while q < n and _isspace(PyUnicode_READ(kind, data, q)):
                q += 1
            ok = False
            if q > k and q < n:
                c = PyUnicode_READ(kind, data, q)
                if _starts_sentence(c):
                    ok = True
                elif c == 34 or c == 39 or c == 0x201C or c == 0x2018 or c == 40 or c == 91:
                    ok = q + 1 < n and _starts_sentence(PyUnicode_READ(kind, data, q + 1))
            if ok:
                token = text[max(0, p - 30) : p + 1].split()[-1].lower().lstrip("(\"'[")
                if token[:-1] in abbreviations or (
                    token.count(".") > 1 and dotted.search(token) is not None
                ):
                    p = q  # the scan goes on after the boundary that did not count
                    continue
                spans.append((start, k))
                start = p = q
                continue
        p += 1
    spans.append((start, n))
    for s, e in spans:
        s, e = _trim(kind, data, s, e)
        if s < e:
            out.append((s, e))
    return out


cdef void _hard_split(int kind, void* data, Py_ssize_t start, Py_ssize_t end, Py_ssize_t cost,
                      Py_ssize_t limit, Py_ssize_t target, list units) except *:
    cdef Py_ssize_t width = max(1, (end - start) * target // max(cost, 1))
    cdef Py_ssize_t pos = start, stop, c
    while pos < end:
        stop = min(end, pos + width)
        c = _estimate(kind, data, pos, stop)
        while c > limit and stop - pos > 1:
            stop = pos + (stop - pos) // 2
            c = _estimate(kind, data, pos, stop)
        units.append((pos, stop, c))
        pos = stop


cdef void _word_units(int kind, void* data, Py_ssize_t start, Py_ssize_t end, Py_ssize_t limit,
                      Py_ssize_t target, list units) except *:
    """A sentence over the limit, cut at whitespace into chunks of about ``target``."""
    cdef Py_ssize_t chunk_start = -1, chunk_end = -1, chunk_cost = 0
    cdef Py_ssize_t ws, we, wc, i = start
    while i < end:
        while i < end and _isspace(PyUnicode_READ(kind, data, i)):
            i += 1
        if i >= end:
            break
        ws = i
        while i < end and not _isspace(PyUnicode_READ(kind, data, i)):
            i += 1
        we = i
        wc = _estimate(kind, data, ws, we)
        if wc > limit:  # a "word" (sequence, URL, formula) over the limit on its own
            if chunk_start >= 0:
                units.append((chunk_start, chunk_end, chunk_cost))
                chunk_start = -1
            _hard_split(kind, data, ws, we, wc, limit, target, units)
            continue
        if chunk_start >= 0 and chunk_cost + wc <= target:
            chunk_end = we
            chunk_cost += wc
            continue
        if chunk_start >= 0:
            units.append((chunk_start, chunk_end, chunk_cost))
        chunk_start, chunk_end, chunk_cost = ws, we, wc
    if chunk_start >= 0:
        units.append((chunk_start, chunk_end, chunk_cost))


def pack_spans(str text, Py_ssize_t start, Py_ssize_t end, Py_ssize_t limit, Py_ssize_t target,
               abbreviations, dotted):
    """``passages._Packer.pack`` with the token estimate and the regex splitter.

    Args:
        text: The abstract.
        start: Start of the section to pack.
        end: Its end.
        limit: Most word pieces in a passage (``max_tokens``).
        target: Size sentences are packed up to (at most ``limit``).
        abbreviations: As for :func:`sentence_spans`.
        dotted: As for :func:`sentence_spans`.

    Returns:
        ``(start, end)`` passage spans, in order.
    """
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef list units = []
    cdef list spans
    cdef Py_ssize_t s, e, c, total = 0, ps, pc, joined
    cdef tuple unit, last, before
    start, end = _trim(kind, data, start, end)
    if start >= end:
        return []
    for s, e in sentence_spans(text[start:end], abbreviations, dotted):
        s += start
        e += start
        c = _estimate(kind, data, s, e)
        if c <= limit:
            units.append((s, e, c))
        else:
            _word_units(kind, data, s, e, limit, target, units)
    for unit in units:
        total += <Py_ssize_t>unit[2]
    if total <= target:
        return [(start, end)]
    # greedy packing up to about target, never above the limit
    spans = []
    for unit in units:
        s, e, c = unit
        if spans:
            last = spans[-1]
            ps, pc = last[0], last[2]
            joined = pc + c
            if joined <= target or (pc < target // 2 and joined <= limit):
                spans[-1] = (ps, e, joined)
                continue
        spans.append(unit)
    if len(spans) > 1:
        before, last = spans[-2], spans[-1]
        if <Py_ssize_t>last[2] < target // 4 and <Py_ssize_t>before[2] + <Py_ssize_t>last[2] <= limit:
            spans[-2:] = [(before[0], last[1], <Py_ssize_t>before[2] + <Py_ssize_t>last[2])]
    return [(unit[0], unit[1]) for unit in spans]
