"""The litmine error hierarchy.

Every error a user can meet is a :class:`LitmineError` carrying a one-line
message (what went wrong) and a hint (how to fix it). Boundaries (CLI, flows,
web) translate these into one line of output; nothing else should escape them.
"""

from __future__ import annotations


class LitmineError(Exception):
    """Base class of all litmine errors.

    Args:
        message: What went wrong, in one sentence.
        hint: How to fix it, in one sentence; optional.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """Return the message and hint as a single line for terminals and logs."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" ({' '.join(self.hint.split())})"
        return text

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(LitmineError):
    """Settings are invalid (bad value, unknown key, unreadable config file)."""


class InputError(LitmineError):
    """A user-supplied argument or file is unusable."""


class MissingDependencyError(LitmineError):
    """An optional package or model is not installed.

    Args:
        what: The missing package or model.
        install: The exact command line that installs it.
    """

    def __init__(self, what: str, install: str) -> None:
        super().__init__(f"{what} is not installed.", f"install it with: {install}")
        self.what = what
        self.install = install


class ModelNotFoundError(LitmineError):
    """A model named in the settings cannot be loaded."""


class NetworkError(LitmineError):
    """Base class of errors talking to a remote service."""


class EntrezUnavailableError(NetworkError):
    """NCBI E-utilities could not be reached at all (DNS, refused, offline)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"NCBI E-utilities at {url} is unreachable ({reason}).",
            "work offline with `litmine ingest --file PATH...` on PubMed XML/MEDLINE/JSONL files",
        )
        self.url = url
        self.reason = reason


class EntrezError(NetworkError):
    """E-utilities answered, but with an error that retrying did not cure."""


class EntrezHistoryError(EntrezError):
    """The history server no longer knows a result set (WebEnv/query_key).

    NCBI drops idle history sets after some hours; searching again gives a
    fresh one.
    """


class ParseError(LitmineError):
    """A whole file or response could not be parsed."""


class RecordError(ParseError):
    """One record in a file is malformed; the rest of the file still counts.

    Args:
        pmid: Identifier of the bad record, when it could be read.
        message: What is wrong with it.
    """

    def __init__(self, pmid: str | None, message: str) -> None:
        super().__init__(f"record {pmid or '<unknown PMID>'}: {message}")
        self.pmid = pmid


class StoreError(LitmineError):
    """The embedded database is unusable (locked, corrupt, newer schema)."""


class IndexStateError(LitmineError):
    """A vector index is missing or does not match the store."""


class RunnerError(LitmineError):
    """The task runner is unusable (a Dask scheduler unreachable, a bad address)."""
