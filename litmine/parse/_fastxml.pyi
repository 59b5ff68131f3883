from typing import Any

from litmine.types import Article

AVAILABLE: bool

class Unsupported(Exception): ...

def pubmed_article(elem: Any) -> Article: ...
def drop_unread(data: bytes) -> bytes: ...
