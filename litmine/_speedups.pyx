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

__all__ = ["token_estimate"]

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
