"""1:N search in Milvus, for a gallery shared by many servers (``pymilvus``).

Selected by configuration (``index_backend = "milvus"``, registry ``("index", "milvus")``).
``uri`` is either a Milvus server (``http://milvus:19530``) or a local file, which runs
Milvus Lite embedded (the ``milvus-lite`` package; nothing is downloaded and no network is
used), as the tests do. One collection holds one gallery: a VARCHAR primary key (our id)
and a FLOAT_VECTOR field compared by inner product (``IP``), which is cosine similarity
for the L2-normalised vectors the Index protocol requires.

Unlike the in-process indexes the collection persists, and Milvus keeps the vectors in
its own storage in the clear: protect that storage (disk or Milvus-level encryption and
access control) as you would the database. ``remove`` deletes by primary key; Milvus
drops deleted rows from segments at compaction, which a server runs on its own schedule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError, InputError
from bordermatch.index._common import check_dim, check_k, check_new_ids, check_vectors

MAX_ID_LENGTH = 128
_BATCH = 1000
_COLLECTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


class MilvusIndex:
    """Inner-product index in a Milvus collection (Index protocol), server or embedded Lite.

    ``add`` refuses ids already present (Milvus itself would store duplicates),
    ``search`` returns scores of shape (n, up to k) in descending order with ``-inf``
    padding, ``remove`` deletes by id. Reads are strongly consistent, so an id is
    searchable as soon as ``add`` returns.
    """

    name = "milvus"

    def __init__(self, dim: int | None, *, uri: str, collection: str = "gallery",
                 token: str | None = None, index_type: str = "AUTOINDEX",
                 search_params: dict[str, Any] | None = None) -> None:
        """``dim=None`` opens an existing collection at its own dimension (ConfigError when
        there is none). ``search_params`` tune the index per query (``{"ef": 256}`` for
        HNSW, ``{"nprobe": 32}`` for IVF_FLAT; Milvus Lite's defaults are 64 and 10)."""
        self._search_params: dict[str, Any] = {"metric_type": "IP"}
        if search_params:
            self._search_params["params"] = dict(search_params)
        from pymilvus import DataType, MilvusClient  # heavy: only when Milvus is configured

        if not _COLLECTION.fullmatch(collection):
            raise ConfigError(f"Milvus collection name {collection!r} is not valid")
        self.collection = collection
        self._client = MilvusClient(uri=uri, token=token or "")
        exists = self._client.has_collection(collection)
        if dim is None and not exists:
            self._client.close()
            raise ConfigError(f"no Milvus collection {collection!r} to open")
        stored = self._stored_dim() if dim is None else dim
        if stored is None:
            raise ConfigError(f"Milvus collection {collection!r} has no vector field")
        self.dim = check_dim(stored)
        if exists:
            self._check_existing()
            # A server (re)started since holds an indexed collection released.
            self._client.load_collection(collection)
            return
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_ID_LENGTH)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        index = self._client.prepare_index_params()
        index.add_index(field_name="vector", index_type=index_type, metric_type="IP")
        self._client.create_collection(collection, schema=schema, index_params=index,
                                       consistency_level="Strong")

    def _stored_dim(self) -> int | None:
        fields = self._client.describe_collection(self.collection)["fields"]
        vector = next((f for f in fields if f["name"] == "vector"), None)
        return None if vector is None else int(vector.get("params", {}).get("dim", -1))

    def _check_existing(self) -> None:
        dim = self._stored_dim()
        if dim != self.dim:
            raise ConfigError(f"Milvus collection {self.collection!r} holds vectors of dim "
                              f"{dim}, not {self.dim}")

    def __len__(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and bool(self._present([item]))

    def _present(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _BATCH):
            # JSON string literals are valid Milvus string literals, quotes escaped.
            expr = f"id in {json.dumps(list(ids[start:start + _BATCH]))}"
            rows = self._client.query(self.collection, filter=expr, output_fields=["id"])
            found.update(r["id"] for r in rows)
        return found

    def add(self, ids: Sequence[str], vectors: NDArray[np.float32]) -> None:
        vectors = check_vectors(vectors, self.dim)
        ids = check_new_ids(ids, len(vectors), {})
        long = next((i for i in ids if len(i) > MAX_ID_LENGTH), None)
        if long is not None:
            raise InputError(f"id longer than {MAX_ID_LENGTH} characters: {long[:20]}...")
        clash = self._present(ids)
        if clash:
            raise InputError(f"id {sorted(clash)[0]!r} is already in the index; remove it first")
        for start in range(0, len(ids), _BATCH):  # keeps each gRPC message small
            rows = zip(ids[start:start + _BATCH], vectors[start:start + _BATCH].tolist(),
                       strict=True)
            self._client.insert(self.collection, [{"id": i, "vector": v} for i, v in rows])

    def upsert(self, ids: Sequence[str], vectors: NDArray[np.float32]) -> None:
        """Put these vectors under these ids, replacing any already there: applying the
        same change twice leaves the collection as applying it once (the outbox relay
        relies on this after a crash between its write and its commit)."""
        vectors = check_vectors(vectors, self.dim)
        ids = check_new_ids(ids, len(vectors), {})
        long = next((i for i in ids if len(i) > MAX_ID_LENGTH), None)
        if long is not None:
            raise InputError(f"id longer than {MAX_ID_LENGTH} characters: {long[:20]}...")
        for start in range(0, len(ids), _BATCH):
            rows = zip(ids[start:start + _BATCH], vectors[start:start + _BATCH].tolist(),
                       strict=True)
            self._client.upsert(self.collection, [{"id": i, "vector": v} for i, v in rows])

    def flush(self) -> None:
        """Seal buffered writes into segments, which Milvus then indexes (a search scans
        the write buffer exactly until then)."""
        self._client.flush(self.collection)

    def search(
        self, queries: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], list[list[str]]]:
        queries = check_vectors(queries, self.dim, "queries")
        k = check_k(k)
        if not len(queries):
            return np.zeros((0, 0), np.float32), []
        hits: Any = self._client.search(self.collection, data=queries.tolist(), limit=k,
                                        output_fields=["id"], anns_field="vector",
                                        search_params=self._search_params)
        rows = [sorted(((float(h["distance"]), h["id"]) for h in row),
                       key=lambda sh: -sh[0]) for row in hits]
        width = max((len(r) for r in rows), default=0)
        scores = np.full((len(rows), width), -np.inf, np.float32)
        for n, row in enumerate(rows):
            scores[n, : len(row)] = [s for s, _ in row]
        return scores, [[i for _, i in row] for row in rows]

    def remove(self, ids: Sequence[str]) -> int:
        """Delete these ids (unknown ones are ignored); returns how many were present."""
        present = sorted(self._present([i for i in ids if isinstance(i, str)]))
        for start in range(0, len(present), _BATCH):
            self._client.delete(self.collection, ids=present[start:start + _BATCH])
        return len(present)

    def drop(self) -> None:
        """Delete the whole collection (a gallery that closed)."""
        self._client.drop_collection(self.collection)

    def close(self) -> None:
        self._client.close()


def create(dim: int, **options: Any) -> MilvusIndex:
    """Registry factory (``("index", "milvus")``); options as ``MilvusIndex``."""
    return MilvusIndex(dim, **options)
