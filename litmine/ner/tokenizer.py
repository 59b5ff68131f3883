"""The biomedical tokenizer: scispaCy's rule tokenizer plus a few extra splits.

scispaCy's ``combined_rule_tokenizer`` keeps hyphenated and slashed words whole
(``cocaine-induced``, ``ergotamine/caffeine``), but BC5CDR annotates the parts
(``cocaine``); about 9% of its mentions would then not start or end on a token
boundary. :func:`biomedical_tokenizer` adds infix rules splitting at ``-``,
``/`` and ``+`` inside words, so nearly every gold mention aligns to tokens.

The result is an ordinary spaCy ``Tokenizer`` whose rules are saved with the
pipeline (``tokenizer`` file), so a trained model loads with ``spacy.load``
alone; the registered name ``litmine.biomedical_tokenizer.v1`` lets configs
build it from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokenizer import Tokenizer

#: Extra infixes: hyphens, slashes and plus signs between two non-space characters,
#: and a closing bracket followed by a hyphen (``(PCP)-induced``).
EXTRA_INFIXES: tuple[str, ...] = (
    r"(?<=\S)[-\u2010-\u2013/+](?=\S)",
    r"(?<=[)\]])(?=[-\u2010-\u2013])",
)


def biomedical_tokenizer(nlp: Language) -> Tokenizer:
    """Build scispaCy's rule tokenizer with litmine's extra infix splits.

    Args:
        nlp: The pipeline whose vocab the tokenizer uses.

    Returns:
        A spaCy tokenizer (serialisable with the pipeline).
    """
    from scispacy.custom_tokenizer import combined_rule_tokenizer
    from spacy.util import compile_infix_regex

    tokenizer = combined_rule_tokenizer(nlp)
    pattern = tokenizer.infix_finditer.__self__.pattern
    tokenizer.infix_finditer = compile_infix_regex([*EXTRA_INFIXES, pattern]).finditer
    return tokenizer


def _register() -> None:
    import spacy

    @spacy.registry.tokenizers("litmine.biomedical_tokenizer.v1")
    def create_biomedical_tokenizer() -> Callable[[Language], Tokenizer]:
        return biomedical_tokenizer


_register()
