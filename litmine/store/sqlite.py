"""The SQLite store: the per-concern mixins on one connection.

:class:`Store` is the default (and so far only) implementation of
:class:`~litmine.store.protocol.StoreProtocol`. Each mixin is one concern of
the database and lives in its own module; they share the connection,
transactions and error translation of
:class:`~litmine.store.connection.Connection`.
"""

from __future__ import annotations

from litmine.store.articles import ArticlesMixin
from litmine.store.entities import EntitiesMixin
from litmine.store.filters import FiltersMixin
from litmine.store.maintenance import MaintenanceMixin
from litmine.store.protocol import StoreProtocol
from litmine.store.runs import RunsMixin
from litmine.store.saved_queries import SavedQueriesMixin

__all__ = ["Store"]


class Store(
    ArticlesMixin,  # + passages, full text, connection
    EntitiesMixin,
    RunsMixin,
    SavedQueriesMixin,
    FiltersMixin,
    MaintenanceMixin,
):
    """The litmine database: one SQLite file in WAL mode.

    Any number of processes may read while one writes (WAL). Writers queue on
    the database lock for ``timeout`` seconds, then get a
    :class:`~litmine.errors.StoreError`. A store may be handed between threads
    but must not be used by two threads at once.

    Args:
        path: Database file; created (with its folder) unless ``read_only``.
        read_only: Open without write access; fails if the file is missing or
            its schema needs upgrading.
        timeout: Seconds to wait for another process's write lock.

    Raises:
        StoreError: The file can't be opened, isn't a litmine database, or was
            written by a newer litmine.
    """


def _implements_protocol(store: Store) -> StoreProtocol:
    """Never called: mypy checks here that :class:`Store` satisfies the protocol."""
    return store
