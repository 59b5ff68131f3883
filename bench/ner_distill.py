"""Teachers, their votes and students on BC5CDR dev, in one run; prints (and writes) JSON.

Every model runs as litmine's extraction runs it (``build_nlp``: abbreviation
detector and post-processing) over the same dev abstracts; its spans are scored
exactly (span + label, ``litmine.ner.eval.score``). A vote ``A,B,C:2`` keeps the
spans that at least 2 of the named models predict (``litmine.ner.distill.vote``,
the rule that makes the silver data), scored the same way. Times are
``nlp.pipe`` over the texts, post-processing included (machine load recorded).

Usage:
    .venv/bin/python bench/ner_distill.py \
        --model default=litmine-bc5cdr --model student=/path/to/student \
        --vote default,wide:2 [--corpus dev.PubTator] [--limit N] [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from litmine.config import NerSettings  # noqa: E402
from litmine.entities import build_nlp  # noqa: E402
from litmine.ner.distill import vote  # noqa: E402
from litmine.ner.eval import gold_spans, predict_spans, score  # noqa: E402
from litmine.ner.pubtator import read_pubtator  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"


def _summary(scores: object) -> dict[str, object]:
    d = scores.as_dict()  # type: ignore[attr-defined]
    return {"overall": d["overall"], "per_label": d["per_label"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="NAME=model (repeatable)")
    ap.add_argument("--vote", action="append", default=[], help="NAME,NAME,...:MIN_VOTES")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    docs = list(read_pubtator(args.corpus))[: args.limit]
    texts = [d.text for d in docs]
    gold = [gold_spans(d) for d in docs]
    spans: dict[str, list[set[tuple[int, int, str]]]] = {}
    results: dict[str, object] = {}
    for spec in args.model:
        name, _, model = spec.partition("=")
        nlp = build_nlp(NerSettings(model=model))
        list(nlp.pipe(texts[:8]))
        t0 = time.perf_counter()
        spans[name] = predict_spans(nlp, texts)
        seconds = time.perf_counter() - t0
        results[name] = {
            "model": model,
            **_summary(score(gold, spans[name])),
            "abstracts_per_second_nlp_pipe_postprocessed": round(len(texts) / seconds, 2),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
        print(name, json.dumps(results[name]["overall"]), flush=True)  # type: ignore[index]
        del nlp
    for spec in args.vote:
        names, _, k = spec.partition(":")
        members = names.split(",")
        voted = [set(vote([spans[m][i] for m in members], int(k))) for i in range(len(docs))]
        results[f"vote {spec}"] = _summary(score(gold, voted))
        print(spec, json.dumps(results[f"vote {spec}"]["overall"]), flush=True)  # type: ignore[index]
    report = {"corpus": args.corpus.name, "abstracts": len(docs), "results": results}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
