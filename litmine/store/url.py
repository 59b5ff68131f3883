"""Which database a store uses: parsing ``store.url`` and masking its password.

``store.url`` (env ``LITMINE_STORE_URL``) selects the backend:

* unset: the SQLite file ``litmine.db`` under the data dir (the default);
* ``sqlite:///path/litmine.db`` (``sqlite:////abs/path`` or ``sqlite:///rel/path``);
* ``postgresql://user[:password]@host[:port]/db`` (``postgres://`` too), a
  shared server several machines use at once.

Nothing here imports a database driver: ``litmine --help`` and the parse
workers stay light.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from litmine.errors import StoreError

if TYPE_CHECKING:
    from litmine.config import Settings

__all__ = [
    "StoreLocation",
    "StoreUnavailableError",
    "mask_url",
    "scrub_secrets",
    "store_location",
]

Backend = Literal["sqlite", "postgresql"]


class StoreUnavailableError(StoreError):
    """The database server cannot be reached (down, restarting, connection dropped).

    A transient condition: the web app answers 503 and a retry later may work.
    """


@dataclass(slots=True, frozen=True)
class StoreLocation:
    """Where a store lives.

    Attributes:
        backend: ``sqlite`` or ``postgresql``.
        url: The URL as configured (may hold a password: never print it, use
            :attr:`display`).
        path: The SQLite file (None for PostgreSQL).
    """

    backend: Backend
    url: str
    path: Path | None = None

    @property
    def display(self) -> str:
        """The URL with any password masked, for status lines, logs and errors."""
        return mask_url(self.url)

    @property
    def is_postgres(self) -> bool:
        """Whether this is a PostgreSQL server."""
        return self.backend == "postgresql"


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (other parts kept).

    ``postgresql://ann:s3cret@db:5432/lm`` becomes
    ``postgresql://ann:***@db:5432/lm``; a ``password=`` query parameter is
    masked too. URLs without a password come back unchanged.

    Args:
        url: A database URL.

    Returns:
        The URL, safe to print.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    masked = url
    # Edit the text rather than re-joining the parts: urlunsplit would turn
    # ``sqlite:////abs/path`` into ``sqlite://abs/path``.
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        masked = masked.replace(f"{userinfo}@", f"{user}:***@", 1)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", masked)


_PASSWORD_RE = re.compile(
    r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)|(://[^:/@\s]+:)([^@\s]+)(@)"
)


def scrub_secrets(text: str) -> str:
    """Mask anything in ``text`` that looks like a password (``password=...``, ``user:pw@``).

    Driver error messages can quote the connection string; they pass through
    this before reaching a log or the user.
    """

    def _mask(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return f"{match.group(1)}***"
        return f"{match.group(3)}***{match.group(5)}"

    return _PASSWORD_RE.sub(_mask, text)


def store_location(settings: Settings) -> StoreLocation:
    """Where the store of these settings lives, from ``settings.store.url``.

    Args:
        settings: The settings tree.

    Returns:
        The backend and its URL (and the file for SQLite).

    Raises:
        StoreError: The URL names an unknown scheme or has no database path.
    """
    url = settings.store.url
    if not url:
        path = settings.db_path
        return StoreLocation("sqlite", f"sqlite:///{path}", path)
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        rest = url[len("sqlite:") :]
        if not rest.startswith("///") or len(rest) <= 3:
            raise StoreError(
                f"store URL {mask_url(url)!r} names no database file",
                "write it as sqlite:///relative/litmine.db or sqlite:////absolute/litmine.db",
            )
        return StoreLocation("sqlite", url, Path(rest[3:]).expanduser())
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        parts = urlsplit(url)
        if not parts.path.strip("/"):
            raise StoreError(
                f"store URL {mask_url(url)!r} names no database",
                "write it as postgresql://user@host:port/dbname",
            )
        # psycopg takes postgresql:// and postgres:// only.
        clean = urlunsplit(("postgresql", *parts[1:]))
        return StoreLocation("postgresql", clean)
    raise StoreError(
        f"unknown store URL scheme in {mask_url(url)!r}",
        "set store.url (LITMINE_STORE_URL) to sqlite:///path/litmine.db or "
        "postgresql://user@host:port/db",
    )
