"""A tiny hand-written collection and a once-per-process MiniLM for search tests."""

from __future__ import annotations

import functools
import os

from litmine.config import Settings
from litmine.passages import split_article
from litmine.store import Store
from litmine.testing import make_article
from litmine.types import Article
from litmine.vectors.embed import Embedder, load_embedder


@functools.cache
def minilm() -> Embedder:
    """The real bundled all-MiniLM-L6-v2 (fp32 torch), loaded once per test process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return load_embedder()


_article = make_article

RCT = "Randomized Controlled Trial"
REVIEW = "Review"
JOURNAL = "Journal Article"

ARTICLES: list[Article] = [
    _article(
        "1001",
        "Aspirin and myocardial infarction",
        "Daily low-dose aspirin reduced the incidence of myocardial infarction in adults "
        "over sixty in a five-year randomized trial.",
        2015,
        [RCT, JOURNAL],
        ["Aspirin", "Myocardial Infarction"],
    ),
    _article(
        "1002",
        "Metformin in type 2 diabetes",
        "Metformin lowered glycated haemoglobin and fasting glucose in patients with type 2 "
        "diabetes compared with placebo.",
        2012,
        [RCT],
        ["Metformin", "Diabetes Mellitus, Type 2"],
    ),
    _article(
        "1003",
        "Sleep deprivation and memory",
        "Students kept awake for one night remembered fewer word pairs than rested students; "
        "sleep loss impairs the consolidation of declarative memory.",
        2019,
        [JOURNAL],
        ["Sleep Deprivation", "Memory"],
    ),
    _article(
        "1004",
        "Zebrafish fin regeneration",
        "Amputated caudal fins of zebrafish regrew within two weeks; the blastema expressed "
        "the gene xyzzyl7 during outgrowth.",
        2008,
        [JOURNAL],
        ["Zebrafish", "Regeneration"],
    ),
    _article(
        "1005",
        "Exercise and depressive symptoms",
        "Supervised aerobic exercise three times a week reduced depressive symptoms in older "
        "adults, a review of twenty trials found.",
        2021,
        [REVIEW],
        ["Exercise", "Depression"],
    ),
    _article(
        "1006",
        "Vitamin D and bone fractures",
        "Vitamin D supplementation did not lower the rate of hip fractures among elderly women "
        "living in the community.",
        2017,
        [RCT],
        ["Vitamin D", "Hip Fractures"],
    ),
    _article(
        "1007",
        "Antibiotic resistance in hospital Escherichia coli",
        "Carbapenem-resistant Escherichia coli isolates rose sharply in intensive care units "
        "between 2010 and 2016.",
        2018,
        [JOURNAL],
        ["Escherichia coli", "Drug Resistance, Bacterial"],
    ),
    _article(
        "1008",
        "Smoking cessation with varenicline",
        "Varenicline doubled continuous abstinence from cigarettes at one year compared with "
        "nicotine patches.",
        2016,
        [RCT],
        ["Varenicline", "Smoking Cessation"],
    ),
    _article(
        "1009",
        "Coffee consumption and liver disease",
        "Drinking coffee was associated with lower liver stiffness and fewer cases of "
        "cirrhosis in a cohort of fifty thousand adults.",
        2013,
        [JOURNAL],
        ["Coffee", "Liver Cirrhosis"],
    ),
    _article(
        "1010",
        "Malaria vaccine efficacy in children",
        "The RTS,S vaccine prevented about a third of clinical malaria episodes in African "
        "children aged five to seventeen months.",
        2011,
        [RCT],
        ["Malaria Vaccines", "Malaria"],
    ),
    _article(
        "1011",
        "Screen time and myopia in schoolchildren",
        "Children who spent more hours on smartphones and tablets were more often "
        "short-sighted by age twelve.",
        2020,
        [JOURNAL],
        ["Myopia", "Screen Time"],
    ),
    _article(
        "1012",
        "Long review of statins",
        "Statins lower low-density lipoprotein cholesterol. "
        + " ".join(
            f"Trial {i} of statin therapy reported fewer cardiovascular events and lower "
            f"cholesterol in treated patients than in controls over {i + 2} years."
            for i in range(30)
        ),
        2014,
        [REVIEW],
        ["Hydroxymethylglutaryl-CoA Reductase Inhibitors", "Cholesterol"],
    ),
]
"""Twelve articles on distinct topics; 1012 is long enough to split into many passages."""


def fill(store: Store, settings: Settings, articles: list[Article] | None = None) -> None:
    """Upsert articles (default: :data:`ARTICLES`) with their passages."""
    store.upsert_articles(
        ARTICLES if articles is None else articles,
        split=lambda a: split_article(a, settings.passages),
    )
