"""Search filters: the small read-only queries :mod:`litmine.search` applies to hits.

Question search filters (year, publication type, MeSH, entity) and the
metadata shown with each hit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from litmine.store.connection import Connection
from litmine.store.records import ArticleMetadata

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["FiltersMixin"]


class FiltersMixin(Connection):
    """Filters over stored articles."""

    def filter_pmids(
        self,
        *,
        since_year: int | None = None,
        until_year: int | None = None,
        pub_types: Sequence[str] = (),
        mesh: Sequence[str] = (),
        entities: Sequence[str] = (),
    ) -> set[str]:
        """PMIDs of articles passing every given condition (case-insensitive).

        Args:
            since_year: Publication year at least this (articles without a year fail).
            until_year: Publication year at most this.
            pub_types: The article has at least one of these publication types.
            mesh: The article has every one of these MeSH descriptors (by name
                or descriptor UI).
            entities: The article has a passage with an entity mention whose
                text or normalised form equals each of these.

        Returns:
            The matching PMIDs.
        """
        where: list[str] = []
        params: list[Any] = []
        if since_year is not None:
            where.append("a.pub_year >= ?")
            params.append(since_year)
        if until_year is not None:
            where.append("a.pub_year <= ?")
            params.append(until_year)
        if pub_types:
            where.append(
                "a.pmid IN (SELECT pmid FROM article_pub_types WHERE lower(pub_type) IN "
                "(SELECT lower(value) FROM json_each(?)))"
            )
            params.append(json.dumps(list(pub_types)))
        for term in mesh:
            where.append(
                "a.pmid IN (SELECT pmid FROM article_mesh WHERE lower(descriptor_name) = lower(?) "
                "OR descriptor_ui = ?)"
            )
            params.extend([term, term])
        for text in entities:
            where.append(
                "a.pmid IN (SELECT p.pmid FROM entities e JOIN passages p ON p.id = e.passage_id "
                "WHERE lower(e.text) = lower(?) OR lower(e.normalized) = lower(?))"
            )
            params.extend([text, text])
        sql = "SELECT a.pmid FROM articles a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._errors():
            return {row[0] for row in self._conn.execute(sql, params)}

    def passage_ids_of(self, pmids: Iterable[str]) -> npt.NDArray[np.int64]:
        """Ids of the passages of these articles, ascending (a FAISS id filter).

        Args:
            pmids: Article PMIDs; unknown ones are ignored.

        Returns:
            An int64 array.
        """
        # SQLite-specific: json_each turns one parameter into a table of PMIDs.
        with self._errors():
            cursor = self._conn.execute(
                "SELECT id FROM passages WHERE pmid IN (SELECT value FROM json_each(?)) "
                "ORDER BY id",
                (json.dumps(list(pmids)),),
            )
            import numpy as np

            return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    def article_metadata(self, pmids: Iterable[str]) -> dict[str, ArticleMetadata]:
        """Year, journal and publication types of articles, for result display.

        Args:
            pmids: Article PMIDs; unknown ones are left out of the result.

        Returns:
            PMID -> its metadata.
        """
        keys = json.dumps(list(dict.fromkeys(pmids)))
        out: dict[str, ArticleMetadata] = {}
        with self._errors():
            for pmid, year, journal in self._conn.execute(
                "SELECT pmid, pub_year, journal FROM articles "
                "WHERE pmid IN (SELECT value FROM json_each(?))",
                (keys,),
            ):
                out[pmid] = ArticleMetadata(year=year, journal=journal)
            for pmid, pub_type in self._conn.execute(
                "SELECT pmid, pub_type FROM article_pub_types "
                "WHERE pmid IN (SELECT value FROM json_each(?)) ORDER BY pmid, pub_type",
                (keys,),
            ):
                if pmid in out:
                    out[pmid].publication_types.append(pub_type)
        return out
