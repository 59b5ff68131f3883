"""Shared pieces of the answer tests: a tiny local T5 and a three-topic collection."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

from litmine.testing import make_article
from litmine.types import Article


@functools.cache
def tiny_t5_dir() -> Path:
    """A randomly initialised 1-layer T5 with the MiniLM (BERT) tokenizer, saved once per process.

    Its output is gibberish; it exists to exercise the real loading, prompting,
    batching and decoding path offline.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from litmine.testing import save_tiny_seq2seq

    folder = Path(tempfile.mkdtemp(prefix="litmine-tiny-t5-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return save_tiny_seq2seq(folder)


RCT = "Randomized Controlled Trial"
META = "Meta-Analysis"
REVIEW = "Review"
JOURNAL = "Journal Article"
RETRACTED = "Retracted Publication"


def _article(
    pmid: str,
    title: str,
    abstract: str,
    year: int,
    pub_types: list[str],
    mesh: list[str],
    chemicals: tuple[str, ...] = (),
) -> Article:
    return make_article(
        pmid,
        title,
        abstract,
        year,
        pub_types,
        ["Humans", *mesh],
        journal="Journal of Answers",
        chemicals=chemicals,
        doi=f"10.1000/ans.{pmid}",
    )


ASPIRIN = ["2001", "2002", "2003", "2004"]
COFFEE = ["2011", "2012", "2013"]
SLEEP = ["2021", "2022", "2023"]
RETRACTED_PMID = "2005"

ARTICLES: list[Article] = [
    _article(
        "2001",
        "Low-dose aspirin for primary prevention of myocardial infarction",
        "Daily low-dose aspirin reduced the incidence of myocardial infarction in adults "
        "over sixty in a five-year randomized trial. Major bleeding was more frequent with "
        "aspirin than with placebo.",
        2015,
        [RCT, JOURNAL],
        ["Aspirin", "Myocardial Infarction"],
        ("Aspirin",),
    ),
    _article(
        "2002",
        "Aspirin after coronary stenting",
        "Aspirin combined with clopidogrel lowered stent thrombosis and myocardial infarction "
        "after coronary stenting. Bleeding complications rose modestly.",
        2017,
        [RCT],
        ["Aspirin", "Myocardial Infarction", "Stents"],
        ("Aspirin", "Clopidogrel"),
    ),
    _article(
        "2003",
        "Aspirin and cardiovascular events: a meta-analysis",
        "Across twelve trials, aspirin reduced non-fatal myocardial infarction by a fifth but "
        "did not change cardiovascular mortality. Aspirin increased gastrointestinal bleeding.",
        2019,
        [META, JOURNAL],
        ["Aspirin", "Myocardial Infarction", "Cardiovascular Diseases"],
        ("Aspirin",),
    ),
    _article(
        "2004",
        "Aspirin resistance in patients with heart disease",
        "A fifth of patients with coronary heart disease showed aspirin resistance on platelet "
        "function tests, and these patients had more myocardial infarctions.",
        2012,
        [REVIEW],
        ["Aspirin", "Myocardial Infarction", "Drug Resistance"],
        ("Aspirin",),
    ),
    _article(
        RETRACTED_PMID,
        "Aspirin abolishes myocardial infarction in everyone",
        "Aspirin prevented every myocardial infarction in a fabricated trial of ten thousand "
        "adults; the data were later found to be invented.",
        2010,
        [RCT, RETRACTED],
        ["Aspirin", "Myocardial Infarction"],
        ("Aspirin",),
    ),
    _article(
        "2011",
        "Coffee consumption and liver cirrhosis",
        "Drinking coffee was associated with lower liver stiffness and fewer cases of "
        "cirrhosis in a cohort of fifty thousand adults.",
        2013,
        ["Observational Study"],
        ["Coffee", "Liver Cirrhosis"],
        ("Caffeine",),
    ),
    _article(
        "2012",
        "Coffee and hepatocellular carcinoma",
        "Each additional daily cup of coffee lowered the risk of liver cancer by about a fifth "
        "in a pooled analysis of cohort studies.",
        2016,
        [META],
        ["Coffee", "Liver Neoplasms"],
        ("Caffeine",),
    ),
    _article(
        "2013",
        "Coffee drinking and liver enzymes",
        "Regular coffee drinkers had lower serum liver enzymes, suggesting that coffee protects "
        "the liver from injury.",
        2011,
        [JOURNAL],
        ["Coffee", "Liver Diseases"],
        ("Caffeine",),
    ),
    _article(
        "2021",
        "Sleep deprivation impairs memory consolidation",
        "Students kept awake for one night remembered fewer word pairs than rested students; "
        "sleep loss impairs the consolidation of declarative memory.",
        2019,
        [RCT],
        ["Sleep Deprivation", "Memory"],
    ),
    _article(
        "2022",
        "Naps and learning in children",
        "Preschool children who napped after learning recalled more of a visuospatial task, "
        "showing that sleep supports memory in early childhood.",
        2018,
        [JOURNAL],
        ["Sleep", "Memory", "Child, Preschool"],
    ),
    _article(
        "2023",
        "Insomnia and cognitive decline",
        "Older adults with chronic insomnia performed worse on memory tests over ten years "
        "than good sleepers.",
        2020,
        ["Case Reports"],
        ["Sleep Initiation and Maintenance Disorders", "Memory"],
    ),
]
"""Three topics (aspirin / coffee-liver / sleep-memory), one retracted aspirin trial."""
