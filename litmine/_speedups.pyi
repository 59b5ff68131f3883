import re
from collections.abc import Container

def token_estimate(text: str) -> int: ...
def sentence_spans(
    text: str, abbreviations: Container[str], dotted: re.Pattern[str]
) -> list[tuple[int, int]]: ...
def pack_spans(
    text: str,
    start: int,
    end: int,
    limit: int,
    target: int,
    abbreviations: Container[str],
    dotted: re.Pattern[str],
) -> list[tuple[int, int]]: ...
