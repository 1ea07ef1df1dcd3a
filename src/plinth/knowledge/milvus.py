"""The Milvus backend (pymilvus; milvus-lite for a local file, a server URI at scale).

One collection per store. BM25 runs inside Milvus (its built-in BM25
function over a sparse field), dense search on a FLAT inner-product index,
and the two rankings are fused here exactly as in the embedded backend, so
scores mean the same on both. Milvus's own analyzers cannot do our
stemming, so Plinth analyses text itself (``segment.analyze``) and stores
each term as a short hash token that Milvus's ``standard`` tokenizer keeps
whole: the BM25 terms are then identical to the embedded backend's.
Attributes are a JSON field on every chunk, and also on each file's row of
the manifest below.

Filters are resolved per file, not per chunk: milvus-lite evaluates a JSON
path expression at about 0.15 ms a row and refuses a JSON path index ("field
type JSON does not support scalar index"), so ``attributes["group"] == 3``
made each search of 100k chunks take 6-12 s (benchmarks/milvus_filters.py).
Attributes belong to a file, so a search reads the manifest's rows (one per
file), keeps the files whose attributes match (``filters.matches``, the same
rule as the embedded backend) and asks Milvus for ``file_id in [...]`` (or
``not in``, whichever list is shorter), a plain VARCHAR test. Stores made
before the manifest carried attributes, and filters matching more than
``_MAX_FILTER_FILES`` files on both sides, keep the JSON expression.
All reads use Strong consistency, so a search sees every
completed upsert and delete.

Chunks have computed primary keys — the file id's hash, then the chunk's
position — and a small companion collection records each file's chunk
count, so every per-file operation is a primary-key lookup. A filter on
``file_id`` would scan the unindexed growing segments instead, and ingest
slowed in proportion to the store's size (1.3 s per file at 20k chunks).

Writes land in Milvus's growing segments, which it searches by brute force:
on milvus-lite a BM25 search of 5k growing chunks took 0.8 s, against 20 ms
once sealed. So a collection is flushed (its segments sealed and indexed)
``flush_after_s`` after its last write: a burst of uploads is sealed once,
when it ends, and searches before that are slower but see every write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from plinth.errors import VectorStoreNotFound
from plinth.extras import require_milvus
from plinth.knowledge import fusion
from plinth.knowledge.filters import AttributeValue, Comparison, Filter, Membership, matches
from plinth.knowledge.index import ChunkRecord, FileInfo, Hit, SearchRequest
from plinth.knowledge.memory import finish
from plinth.knowledge.segment import analyze

log = logging.getLogger(__name__)

_OPS = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_FIELDS = ["file_id", "seq", "text", "attributes"]
_SEQ_BITS = 16  # chunks per file: at most 65,536
_FILE_FIELDS = ["file_id", "seq", "tokens", "text", "terms", "vector", "attributes"]
# Past this many file ids on the shorter side, the JSON expression is used instead
# (an expression of 20k ids is ~0.5 MB; Milvus parses it on every search).
_MAX_FILTER_FILES = 20_000


def file_key(file_id: str) -> int:
    """The primary key of a file's chunk 0: 47 bits of its id's hash, then 16 for the chunk."""
    digest = int.from_bytes(hashlib.blake2b(file_id.encode(), digest_size=8).digest(), "big")
    return (digest >> 17) << _SEQ_BITS


def term_tokens(terms: list[str]) -> str:
    """Each analysed term as ``t`` + 12 hex digits: one token for Milvus's tokenizer."""
    return " ".join("t" + hashlib.blake2b(t.encode(), digest_size=6).hexdigest() for t in terms)


def _literal(value: AttributeValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def filter_expression(flt: Filter) -> str:
    """An OpenAI filter as a Milvus boolean expression over the ``attributes`` JSON field."""
    if isinstance(flt, Comparison | Membership):
        field = f"attributes[{json.dumps(flt.key, ensure_ascii=False)}]"
        if isinstance(flt, Comparison):
            compare = f"{field} {_OPS[flt.op]} {_literal(flt.value)}"
        else:
            # Spelled as ==/!= per value, not ``field in [...]``: Milvus Lite refuses
            # ``in`` on a JSON path ("left side of 'in' must be a field reference"),
            # and per-value tests keep eq/ne's handling of mixed types exactly.
            op, joiner = ("==", " or ") if flt.op == "in" else ("!=", " and ")
            compare = "(" + joiner.join(f"{field} {op} {_literal(v)}" for v in flt.values) + ")"
        return f"(exists {field} and {compare})"
    joiner = " and " if flt.op == "and" else " or "
    return "(" + joiner.join(filter_expression(f) for f in flt.filters) + ")"


class MilvusIndex:
    def __init__(
        self,
        uri: str,
        *,
        token: str = "",
        k1: float = 0.9,
        b: float = 0.4,
        flush_after_s: float = 2.0,
    ):
        require_milvus(uri)  # the 'milvus' extra: a clear line, not an ImportError
        from pymilvus import MilvusClient  # type: ignore[import-untyped]

        self._client: Any = MilvusClient(uri=uri, token=token)
        self.k1, self.b = k1, b
        self._dims_of: dict[str, int] = {}
        self._manifest_attributes: dict[str, bool] = {}
        self.flush_after_s = flush_after_s
        self._flush_timers: dict[str, threading.Timer] = {}
        self._timers_lock = threading.Lock()

    def close(self) -> None:
        with self._timers_lock:
            timers, self._flush_timers = list(self._flush_timers.values()), {}
        for timer in timers:
            timer.cancel()
        self._client.close()

    def _wrote(self, name: str) -> None:
        """Schedule the collection's flush for ``flush_after_s`` after this write."""
        timer = threading.Timer(self.flush_after_s, self._flush, args=(name,))
        timer.daemon = True
        with self._timers_lock:
            previous = self._flush_timers.pop(name, None)
            self._flush_timers[name] = timer
        if previous is not None:
            previous.cancel()
        timer.start()

    def _flush(self, name: str) -> None:
        with self._timers_lock:
            self._flush_timers.pop(name, None)
        try:
            if self._client.has_collection(name):
                self._client.flush(name)
        except Exception:  # a later write schedules another; searches stay correct
            log.warning("flushing Milvus collection %s failed", name, exc_info=True)

    @staticmethod
    def collection(store_id: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9_]", "_", store_id)
        digest = hashlib.blake2b(store_id.encode(), digest_size=4).hexdigest()
        return f"kb_{safe[:200]}_{digest}"

    @staticmethod
    def _manifest(name: str) -> str:
        return f"{name}_files"

    def _require(self, store_id: str) -> str:
        name = self.collection(store_id)
        if not self._client.has_collection(name):
            raise VectorStoreNotFound(f"No vector store found with id '{store_id}'")
        return name

    def create_store(self, store_id: str, dims: int | None) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = self._client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("file_id", DataType.VARCHAR, max_length=64)
        schema.add_field("seq", DataType.INT64)
        schema.add_field("tokens", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        analyzer = {"tokenizer": "standard"}
        schema.add_field(
            "terms",
            DataType.VARCHAR,
            max_length=65535,
            enable_analyzer=True,
            analyzer_params=analyzer,
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        # Milvus needs a dense field; a lexical-only store carries a 2-dim placeholder.
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dims or 2)
        schema.add_field("attributes", DataType.JSON)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        index = self._client.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        index.add_index(
            field_name="sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": self.k1, "bm25_b": self.b},
        )
        self._client.create_collection(
            self.collection(store_id),
            schema=schema,
            index_params=index,
            consistency_level="Strong",
            properties={"plinth.dims": str(dims or 0)},
        )
        manifest = self._client.create_schema(auto_id=False)
        manifest.add_field("id", DataType.INT64, is_primary=True)
        manifest.add_field("file_id", DataType.VARCHAR, max_length=64)
        manifest.add_field("chunks", DataType.INT64)
        manifest.add_field("attributes", DataType.JSON)  # the file's, for filters
        manifest.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)  # Milvus demands one
        manifest_index = self._client.prepare_index_params()
        manifest_index.add_index(field_name="placeholder", index_type="FLAT", metric_type="L2")
        self._client.create_collection(
            self._manifest(self.collection(store_id)),
            schema=manifest,
            index_params=manifest_index,
            consistency_level="Strong",
        )

    def delete_store(self, store_id: str) -> bool:
        name = self.collection(store_id)
        if not self._client.has_collection(name):
            return False
        self._client.drop_collection(name)
        self._client.drop_collection(self._manifest(name))
        self._dims_of.pop(name, None)
        self._manifest_attributes.pop(name, None)
        return True

    def _dims(self, name: str) -> int:
        if name not in self._dims_of:
            fields = self._client.describe_collection(name)["fields"]
            vector = next(f for f in fields if f["name"] == "vector")
            self._dims_of[name] = int(vector["params"]["dim"])
        return self._dims_of[name]

    def _chunk_count(self, name: str, file_id: str) -> int:
        rows = self._client.get(
            self._manifest(name), ids=[file_key(file_id)], output_fields=["file_id", "chunks"]
        )
        if not rows:
            return 0
        if rows[0]["file_id"] != file_id:
            # 47-bit hashes: about one chance in 10^5 with a million files in one store.
            raise RuntimeError(f"file ids {file_id!r} and {rows[0]['file_id']!r} collide")
        return int(rows[0]["chunks"])

    def _has_manifest_attributes(self, name: str) -> bool:
        """Whether the store's manifest records attributes (stores made since it does)."""
        if name not in self._manifest_attributes:
            fields = self._client.describe_collection(self._manifest(name))["fields"]
            self._manifest_attributes[name] = any(f["name"] == "attributes" for f in fields)
        return self._manifest_attributes[name]

    def _set_chunk_count(
        self, name: str, file_id: str, chunks: int, attributes: dict[str, AttributeValue]
    ) -> None:
        key = file_key(file_id)
        if chunks == 0:
            self._client.delete(self._manifest(name), ids=[key])
            return
        row: dict[str, Any] = {
            "id": key,
            "file_id": file_id,
            "chunks": chunks,
            "placeholder": [0.0, 0.0],
        }
        if self._has_manifest_attributes(name):
            row["attributes"] = attributes
        self._client.upsert(self._manifest(name), [row])

    def _filter_expression(self, name: str, flt: Filter) -> str | None:
        """The chunk filter for ``flt`` as a test on ``file_id``; None when no file matches."""
        if not self._has_manifest_attributes(name):
            return filter_expression(flt)
        keep: list[str] = []
        drop: list[str] = []
        rows = self._client.query(
            self._manifest(name), filter="chunks > 0", output_fields=["file_id", "attributes"]
        )
        for row in rows:
            (keep if matches(flt, row["attributes"] or {}) else drop).append(row["file_id"])
        if not keep:
            return None
        if not drop:
            return ""
        if min(len(keep), len(drop)) > _MAX_FILTER_FILES:
            return filter_expression(flt)
        if len(keep) <= len(drop):
            return "file_id in " + json.dumps(keep)
        return "file_id not in " + json.dumps(drop)

    def _file_rows(self, name: str, file_id: str, fields: list[str]) -> list[dict[str, Any]]:
        count = self._chunk_count(name, file_id)
        if count == 0:
            return []
        key = file_key(file_id)
        rows: list[dict[str, Any]] = self._client.get(
            name, ids=[key + seq for seq in range(count)], output_fields=fields
        )
        return rows

    def upsert_file(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[ChunkRecord],
        attributes: dict[str, AttributeValue],
    ) -> None:
        name = self._require(store_id)
        if len(chunks) > 1 << _SEQ_BITS:
            raise ValueError(f"a file may have at most {1 << _SEQ_BITS} chunks on Milvus")
        dims = self._dims(name)
        key = file_key(file_id)
        rows = []
        for seq, chunk in enumerate(chunks):
            vector = np.zeros(dims, np.float32) if chunk.vector is None else chunk.vector
            norm = float(np.linalg.norm(vector)) or 1.0
            rows.append(
                {
                    "id": key + seq,
                    "file_id": file_id,
                    "seq": seq,
                    "tokens": chunk.tokens,
                    "text": chunk.text,
                    "terms": term_tokens(chunk.terms),
                    "vector": (np.asarray(vector, np.float32) / norm).tolist(),
                    "attributes": attributes,
                }
            )
        # Milvus has no transactions: the new chunks replace the old ones key by
        # key, then a shorter new version drops the old tail, so a concurrent
        # search sees the file (partly old at worst), never none of it.
        old = self._chunk_count(name, file_id)
        if rows:
            self._client.upsert(name, rows)
        if old > len(rows):
            self._client.delete(name, ids=[key + seq for seq in range(len(rows), old)])
        self._set_chunk_count(name, file_id, len(rows), attributes)
        self._wrote(name)

    def delete_file(self, store_id: str, file_id: str) -> bool:
        name = self._require(store_id)
        old = self._chunk_count(name, file_id)
        if old:
            key = file_key(file_id)
            self._client.delete(name, ids=[key + seq for seq in range(old)])
            self._set_chunk_count(name, file_id, 0, {})
            self._wrote(name)
        return bool(old)

    def update_attributes(
        self, store_id: str, file_id: str, attributes: dict[str, AttributeValue]
    ) -> bool:
        name = self._require(store_id)
        rows = self._file_rows(name, file_id, _FILE_FIELDS)
        if not rows:
            return False
        for row in rows:
            row["attributes"] = attributes
            row["vector"] = [float(x) for x in row["vector"]]
            row.pop("sparse", None)  # derived by the BM25 function
        self._client.upsert(name, rows)
        self._set_chunk_count(name, file_id, len(rows), attributes)
        self._wrote(name)
        return True

    def get_file(self, store_id: str, file_id: str) -> FileInfo | None:
        name = self._require(store_id)
        rows = self._file_rows(name, file_id, ["tokens", "attributes"])
        if not rows:
            return None
        return FileInfo(
            file_id, len(rows), sum(int(r["tokens"]) for r in rows), rows[0]["attributes"]
        )

    def _ranked(
        self, results: Any, entities: dict[int, dict[str, Any]], lexical: bool
    ) -> fusion.Ranked:
        hits = results[0] if results else []
        for hit in hits:
            entities[int(hit["id"])] = hit["entity"]
        keys = np.asarray([int(h["id"]) for h in hits], dtype=np.int64)
        # milvus-lite reports BM25 as a negated distance; only its size matters.
        raw = [abs(float(h["distance"])) if lexical else float(h["distance"]) for h in hits]
        return fusion.Ranked(keys, np.asarray(raw, dtype=np.float32))

    def search(self, store_id: str, request: SearchRequest) -> list[Hit]:
        name = self._require(store_id)
        expr: str | None = ""
        if request.options.filters is not None:
            expr = self._filter_expression(name, request.options.filters)
            if expr is None:  # no file matches: nothing to search
                return []
        depth = max(request.candidates, request.options.max_num_results)
        entities: dict[int, dict[str, Any]] = {}
        lexical = dense = None
        if request.options.mode in ("lexical", "hybrid") and request.text:
            tokens = term_tokens(analyze(request.text))
            if tokens:
                found = self._client.search(
                    name,
                    [tokens],
                    anns_field="sparse",
                    limit=depth,
                    filter=expr,
                    output_fields=_FIELDS,
                )
                lexical = self._ranked(found, entities, lexical=True)
            else:
                lexical = fusion.Ranked(np.zeros(0, np.int64), np.zeros(0, np.float32))
        if request.options.mode in ("dense", "hybrid") and request.vector is not None:
            vector = np.asarray(request.vector, np.float32)
            vector = vector / (float(np.linalg.norm(vector)) or 1.0)
            found = self._client.search(
                name,
                [vector.tolist()],
                anns_field="vector",
                limit=depth,
                filter=expr,
                output_fields=_FIELDS,
                search_params={"metric_type": "IP"},
            )
            dense = self._ranked(found, entities, lexical=False)
        ranked = finish(lexical, dense, request)
        return [
            Hit(
                entities[key]["file_id"],
                key,
                int(entities[key]["seq"]),
                entities[key]["text"],
                float(score),
                dict(entities[key]["attributes"] or {}),
            )
            for key, score in zip(ranked.keys.tolist(), ranked.scores.tolist(), strict=True)
        ]
