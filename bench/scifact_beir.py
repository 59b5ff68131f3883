"""Convert the shared SciFact CSVs into a BEIR folder (corpus, queries, qrels).

Reads ``../shared/data/scifact/corpus_train.csv`` (``doc_id,title,abstract,...``;
the abstract is a numpy-style list repr of sentences, ``['s1'\\n 's2']``) and
``claims_train.csv`` (``id,claim,...,cited_doc_ids`` with ids like
``[ 5152028 11705328]``) and writes::

    OUT/corpus.jsonl   {"_id", "title", "text"}
    OUT/queries.jsonl  {"_id", "text"}
    OUT/qrels.tsv      query-id<TAB>corpus-id<TAB>score (header line)

Each claim's cited documents are its relevant documents (score 1); claims
citing nothing have no judgements and are skipped. With ``--max-queries`` /
``--max-docs`` a slice is written: the first claims, all their cited documents,
then other documents up to the limit. The output is generated data: write it to
a temporary folder, never commit it.

Usage::

    .venv/bin/python bench/scifact_beir.py --out /tmp/scifact-beir \
        [--max-docs 500 --max-queries 100]
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "scifact"
# One quoted sentence of the list repr: '...' or "..." with backslash escapes.
_SENTENCE_RE = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)\"""", re.S)
_INT_RE = re.compile(r"\d+")


def parse_sentences(value: str) -> list[str]:
    """Sentences of a numpy-style list repr (``['s1'\\n 's2']``)."""
    out = []
    for single, double in _SENTENCE_RE.findall(value):
        raw = single if single or not double else double
        quote = "'" if single or not double else '"'
        try:
            text = ast.literal_eval(quote + raw + quote)
        except (ValueError, SyntaxError):
            text = raw
        if text.strip():
            out.append(" ".join(text.split()))
    return out


def parse_ids(value: str) -> list[str]:
    """Document ids of ``[ 5152028 11705328]`` (or ``[1, 2]``), in order, without repeats."""
    return list(dict.fromkeys(_INT_RE.findall(value or "")))


def convert(
    src: Path, out: Path, *, max_docs: int | None = None, max_queries: int | None = None
) -> dict[str, int]:
    """Write the BEIR folder; return the counts written."""
    csv.field_size_limit(sys.maxsize)
    corpus: dict[str, dict[str, str]] = {}
    with (src / "corpus_train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = " ".join(parse_sentences(row["abstract"]))
            if text:
                corpus[row["doc_id"].strip()] = {"title": row["title"].strip(), "text": text}
    claims: dict[str, tuple[str, list[str]]] = {}
    with (src / "claims_train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            cited = [d for d in parse_ids(row["cited_doc_ids"]) if d in corpus]
            if cited and row["id"] not in claims:
                claims[row["id"]] = (row["claim"].strip(), cited)
    chosen = list(claims.items())[:max_queries] if max_queries else list(claims.items())
    docs: dict[str, None] = {}
    for _, (_, cited) in chosen:
        docs.update(dict.fromkeys(cited))
    for doc_id in corpus:
        if max_docs is not None and len(docs) >= max_docs:
            break
        docs.setdefault(doc_id, None)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for doc_id in docs:
            fh.write(json.dumps({"_id": doc_id, **corpus[doc_id]}, ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid, (text, _) in chosen:
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    n_qrels = 0
    with (out / "qrels.tsv").open("w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, (_, cited) in chosen:
            for doc_id in cited:
                fh.write(f"{qid}\t{doc_id}\t1\n")
                n_qrels += 1
    return {"docs": len(docs), "queries": len(chosen), "qrels": n_qrels}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-docs", type=int, default=None)
    parser.add_argument("--max-queries", type=int, default=None)
    args = parser.parse_args(argv)
    counts = convert(args.src, args.out, max_docs=args.max_docs, max_queries=args.max_queries)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
