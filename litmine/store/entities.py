"""Entities: mentions per passage, the extractor's bookkeeping, and counts over them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, SupportsInt

from litmine._compat import batched
from litmine.clock import utc_now
from litmine.errors import StoreError
from litmine.store.connection import IN_CHUNK, NO_LIMIT, Connection, marks
from litmine.store.records import EntityCount, PairCount
from litmine.types import Entity

__all__ = ["EntitiesMixin"]


class EntitiesMixin(Connection):
    """Entity mentions of stored passages."""

    def replace_entities(self, passage_id_to_entities: Mapping[int, Sequence[Entity]]) -> int:
        """Set the entities of passages, replacing what was stored for them.

        Args:
            passage_id_to_entities: Entities per passage id; an empty sequence
                clears a passage's entities.

        Returns:
            Number of entities written.

        Raises:
            ValueError: An entity's ``passage_id`` differs from its key.
            StoreError: A passage id is not in the store.
        """
        ids = [int(pid) for pid in passage_id_to_entities]
        rows: list[tuple[Any, ...]] = []
        for pid, entities in passage_id_to_entities.items():
            for e in entities:
                if e.passage_id != pid:
                    raise ValueError(f"entity of passage {e.passage_id} listed under {pid}")
                rows.append((pid, e.start, e.end, e.text, e.label, e.normalized, e.concept_id))
        with self.transaction(), self._errors():
            conn = self._conn
            known: set[int] = set()
            for chunk in batched(ids, IN_CHUNK):
                known.update(
                    row[0]
                    for row in conn.execute(
                        f"SELECT id FROM passages WHERE id IN ({marks(len(chunk))})", chunk
                    )
                )
            missing = [pid for pid in ids if pid not in known]
            if missing:
                raise StoreError(
                    f"{len(missing)} passage id(s) not in the store (e.g. {missing[0]})",
                    "their articles were deleted or re-split; extract entities again",
                )
            conn.executemany("DELETE FROM entities WHERE passage_id = ?", [(i,) for i in ids])
            conn.executemany(
                "INSERT INTO entities "
                "(passage_id, char_start, char_end, text, label, normalized, concept_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def entities_for(self, passage_ids: Iterable[SupportsInt]) -> dict[int, list[Entity]]:
        """Entities of the given passages, by passage id, in text order.

        Every requested id is a key; passages without entities map to [].
        """
        keys = list(dict.fromkeys(int(i) for i in passage_ids))
        out: dict[int, list[Entity]] = {pid: [] for pid in keys}
        with self._errors():
            for chunk in batched(keys, IN_CHUNK):
                for row in self._conn.execute(
                    "SELECT passage_id, char_start, char_end, text, label, normalized, concept_id "
                    f"FROM entities WHERE passage_id IN ({marks(len(chunk))}) "
                    "ORDER BY passage_id, char_start, id",
                    chunk,
                ):
                    out[row[0]].append(Entity(*row))
        return out

    # ------------------------------------------- entity extraction: bookkeeping, queries

    def pmids_needing_entities(self, limit: int | None = None) -> list[str]:
        """PMIDs of articles with at least one passage the extractor has not processed.

        Args:
            limit: Most PMIDs returned (None: all).

        Returns:
            PMIDs in ascending order.
        """
        with self._errors():
            rows = self._conn.execute(
                "SELECT DISTINCT p.pmid FROM passages p "
                "LEFT JOIN entity_passages m ON m.passage_id = p.id "
                "WHERE m.passage_id IS NULL ORDER BY p.pmid LIMIT ?",
                (NO_LIMIT if limit is None else limit,),
            ).fetchall()
        return [row[0] for row in rows]

    def save_entities(
        self, passage_id_to_entities: Mapping[int, Sequence[Entity]], model: str
    ) -> int:
        """Replace passages' entities and mark the passages processed, atomically.

        Args:
            passage_id_to_entities: Entities per passage id (see :meth:`replace_entities`);
                every key is marked processed, with or without entities.
            model: Name of the model that produced them.

        Returns:
            Number of entities written.
        """
        now = utc_now()
        with self.transaction(), self._errors():
            n = self.replace_entities(passage_id_to_entities)
            self._conn.executemany(
                "INSERT OR REPLACE INTO entity_passages (passage_id, model, processed_at) "
                "VALUES (?, ?, ?)",
                [(int(pid), model, now) for pid in passage_id_to_entities],
            )
        return n

    def clear_entities(self) -> int:
        """Delete every entity and every processed mark (before a rebuild).

        Returns:
            Number of entities deleted.
        """
        with self.transaction(), self._errors():
            n = self._conn.execute("DELETE FROM entities").rowcount
            self._conn.execute("DELETE FROM entity_passages")
        return int(n)

    @staticmethod
    def _pmid_filter(pmids: Iterable[str] | None, column: str) -> tuple[str, list[Any]]:
        if pmids is None:
            return "", []
        # SQLite-specific: json_each turns one parameter into a table of PMIDs.
        return f" AND {column} IN (SELECT value FROM json_each(?))", [json.dumps(list(pmids))]

    def _entity_name(self, label: str, key: str) -> str:
        if key.startswith("text:"):
            return key[5:]
        row = self._conn.execute(
            "SELECT normalized, COUNT(*) AS n FROM entities WHERE label = ? AND concept_id = ? "
            "GROUP BY normalized ORDER BY n DESC, normalized LIMIT 1",
            (label, key),
        ).fetchone()
        return str(row[0]) if row else key

    def top_entities(
        self, *, label: str | None = None, pmids: Iterable[str] | None = None, limit: int = 20
    ) -> list[EntityCount]:
        """The entities mentioned in the most articles.

        Mentions are grouped by concept id when they have one, else by
        normalised text.

        Args:
            label: Only this label (``CHEMICAL``, ``DISEASE``); None for all.
            pmids: Only these articles; None for all.
            limit: Most entities returned.

        Returns:
            Entities, most articles first (then most mentions).
        """
        where, params = self._pmid_filter(pmids, "p.pmid")
        if label is not None:
            where += " AND e.label = ?"
            params.append(label)
        # SQLite-specific: GROUP_CONCAT (PostgreSQL: string_agg).
        sql = (
            "SELECT label, key, COUNT(DISTINCT pmid) AS n_articles, COUNT(*) AS n_mentions, "
            "GROUP_CONCAT(DISTINCT pmid) FROM ("
            "  SELECT e.label AS label, p.pmid AS pmid, CASE WHEN e.concept_id IS NOT NULL "
            "  AND e.concept_id <> '' THEN e.concept_id ELSE 'text:' || e.normalized END AS key"
            "  FROM entities e JOIN passages p ON p.id = e.passage_id WHERE 1 = 1" + where + ") m "
            "GROUP BY label, key ORDER BY n_articles DESC, n_mentions DESC, key LIMIT ?"
        )
        with self._errors():
            rows = self._conn.execute(sql, [*params, limit]).fetchall()
            return [
                EntityCount(
                    label=lab,
                    name=self._entity_name(lab, key),
                    concept_id=None if key.startswith("text:") else key,
                    articles=int(n_articles),
                    mentions=int(n_mentions),
                    pmids=sorted(set(str(pmids_csv or "").split(",")) - {""}),
                )
                for lab, key, n_articles, n_mentions, pmids_csv in rows
            ]

    def chemical_disease_pairs(
        self, *, pmids: Iterable[str] | None = None, limit: int = 50
    ) -> list[PairCount]:
        """Chemical-disease pairs mentioned together in the most articles.

        Args:
            pmids: Only these articles; None for all.
            limit: Most pairs returned.

        Returns:
            Pairs, most supporting articles first.
        """
        where, params = self._pmid_filter(pmids, "p.pmid")
        # SQLite-specific: GROUP_CONCAT (PostgreSQL: string_agg).
        sql = (
            "WITH k AS (SELECT DISTINCT p.pmid AS pmid, e.label AS label, CASE WHEN "
            "  e.concept_id IS NOT NULL AND e.concept_id <> '' THEN e.concept_id "
            "  ELSE 'text:' || e.normalized END AS key"
            "  FROM entities e JOIN passages p ON p.id = e.passage_id"
            "  WHERE e.label IN ('CHEMICAL', 'DISEASE')" + where + ") "
            "SELECT c.key, d.key, COUNT(*) AS n, GROUP_CONCAT(c.pmid) FROM k c "
            "JOIN k d ON d.pmid = c.pmid AND d.label = 'DISEASE' WHERE c.label = 'CHEMICAL' "
            "GROUP BY c.key, d.key ORDER BY n DESC, c.key, d.key LIMIT ?"
        )
        with self._errors():
            rows = self._conn.execute(sql, [*params, limit]).fetchall()
            return [
                PairCount(
                    chemical=self._entity_name("CHEMICAL", ckey),
                    chemical_id=None if ckey.startswith("text:") else ckey,
                    disease=self._entity_name("DISEASE", dkey),
                    disease_id=None if dkey.startswith("text:") else dkey,
                    articles=int(n),
                    pmids=sorted(set(str(csv or "").split(",")) - {""}),
                )
                for ckey, dkey, n, csv in rows
            ]
