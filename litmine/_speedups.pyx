# cython: language_level=3
"""Compiled inner loops for passage splitting (optional accelerator).

Each function here returns exactly what the pure-Python code it replaces in
:mod:`litmine.passages` returns; that code stays the reference and is used
whenever this module is not built.
"""

import re

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index)
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)

__all__ = ["sentence_spans", "token_estimate"]

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


def token_estimate(str text):
    """``passages.estimate_tokens``: what ``re.subn(r"\w{1,4}|[^\w\s]", "", text)`` counts.

    Each run of word characters counts ``ceil(n / 4)`` and every other
    non-space character one.

    Args:
        text: Any string.

    Returns:
        The estimated word-piece count.
    """
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef Py_ssize_t i, run = 0, tokens = 0
    cdef unsigned char cls
    for i in range(n):
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


cdef inline bint _isspace(Py_UCS4 ch) noexcept:
    return _CLASS[ch] == 2 if ch < 128 else Py_UNICODE_ISSPACE(ch)


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
        if s < e and (
            _isspace(PyUnicode_READ(kind, data, s)) or _isspace(PyUnicode_READ(kind, data, e - 1))
        ):
            while s < e and _isspace(PyUnicode_READ(kind, data, s)):
                s += 1
            while e > s and _isspace(PyUnicode_READ(kind, data, e - 1)):
                e -= 1
        if s < e:
            out.append((s, e))
    return out
