"""litmine: mine the medical literature.

The package root stays light (no torch, spaCy or FAISS imports) so that
``litmine --help`` starts fast; import submodules for the heavy parts.
"""

from litmine.errors import LitmineError
from litmine.types import Article, Cluster, Entity, Hit, Passage, Summary

__all__ = ["Article", "Cluster", "Entity", "Hit", "LitmineError", "Passage", "Summary"]
__version__ = "0.1.0"
