"""NER quality and throughput on the BC5CDR dev set; prints (and writes) JSON.

Quality: precision/recall/F1 per label and overall, exact span + label, on
``title + " " + abstract`` of the PubTator dev file (litmine.ner.eval), of the
extraction pipeline (``build_nlp``: abbreviation detector and document-level
post-processing, as ``litmine ner eval`` and ``litmine entities`` run it) and of
the same pipeline with ``ner.postprocess`` off.

Speed, in the same run and on the same abstracts:
- ``baseline``: plain ``spacy.load(model)`` + ``nlp.pipe`` over the texts;
- ``litmine``: the full extraction (biomedical tokenizer, NER, abbreviation
  detector, post-processing, normalisation and MeSH lookup, passage mapping, and
  SQLite storage through ``extract_store``) on the same abstracts stored as
  articles and passages.

Usage:
    .venv/bin/python bench/ner_quality.py [--model litmine-bc5cdr] \
        [--corpus ../shared/data/bc5cdr/CDR_DevelopmentSet.PubTator.txt] [--limit N] \
        [--no-postprocess] [--out r.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from litmine.config import NerSettings, PassageSettings  # noqa: E402
from litmine.entities import (  # noqa: E402
    build_nlp,
    extract_store,
    load_pipeline,
    postprocess_description,
)
from litmine.ner.eval import evaluate  # noqa: E402
from litmine.ner.pubtator import read_pubtator  # noqa: E402
from litmine.passages import split_article  # noqa: E402
from litmine.store import Store  # noqa: E402
from litmine.types import Article  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="litmine-bc5cdr")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=None, help="first N abstracts only")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument(
        "--no-postprocess",
        action="store_true",
        help="time the full extraction with ner.postprocess off",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    docs = list(read_pubtator(args.corpus))[: args.limit]
    texts = [d.text for d in docs]

    quality = {}
    for postprocess in (True, False):
        settings = NerSettings(
            model=args.model, batch_size=args.batch_size, postprocess=postprocess
        )
        scored = build_nlp(settings)
        scores = evaluate(scored, args.corpus, limit=args.limit, batch_size=args.batch_size)
        key = "postprocess" if postprocess else "no_postprocess"
        quality[key] = {
            "pipeline": scored.pipe_names,
            "steps": postprocess_description(scored),
            **scores.as_dict(),
        }
        del scored

    plain = load_pipeline(args.model)

    # Baseline: plain nlp.pipe of the same model (warm-up on a few texts first).
    list(plain.pipe(texts[:8]))
    t0 = time.perf_counter()
    n_ents = sum(len(d.ents) for d in plain.pipe(texts, batch_size=args.batch_size))
    baseline_s = time.perf_counter() - t0

    nlp = build_nlp(
        NerSettings(
            model=args.model, batch_size=args.batch_size, postprocess=not args.no_postprocess
        )
    )
    list(nlp.pipe(texts[:8]))
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        articles = [Article(pmid=d.pmid, title=d.title, abstract=d.abstract) for d in docs]
        split = functools.partial(split_article, settings=PassageSettings())
        store.upsert_articles(articles, split=split)
        t0 = time.perf_counter()
        n_articles = extract_store(store, nlp, batch_articles=100, batch_size=args.batch_size)
        full_s = time.perf_counter() - t0
        stored = store.counts().entities

    result = {
        "model": args.model,
        "corpus": str(args.corpus.name),
        "abstracts": len(docs),
        "quality": quality,
        "speed": {
            "baseline_nlp_pipe": {
                "seconds": round(baseline_s, 3),
                "abstracts_per_second": round(len(docs) / baseline_s, 2),
                "entities": n_ents,
            },
            "litmine_full_pipeline": {
                "seconds": round(full_s, 3),
                "abstracts_per_second": round(n_articles / full_s, 2),
                "entities_stored": stored,
                "stages": "tokenizer, NER, abbreviations, post-processing, normalisation + "
                "MeSH, storage",
                "pipeline": nlp.pipe_names,
                "postprocess": postprocess_description(nlp),
            },
            "overhead_ratio": round(full_s / baseline_s, 3),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
