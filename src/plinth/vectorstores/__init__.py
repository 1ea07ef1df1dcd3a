"""Vector stores: the OpenAI Vector Stores feature, in one package.

- ``service.py``: :class:`VectorStores`, the one door every caller uses (the
  API routes, ``/v1/responses`` file_search, Dify's ``/retrieval``, ``plinth kb``).
- ``build.py``: :func:`build_vector_stores`, the one builder (server and CLI).
- ``ingest.py``: the ingestion queue and the read → parse → index step.
- ``retrieve.py``: searching several stores at once (``file_search``).
- ``catalog.py``: the rows (stores, files, batches, extracted texts).
- ``embedded_index.py``: the default index backend, on Plinth's own database.
- ``shapes.py``: OpenAI's JSON shapes.
- ``work.py``: the pool CPU-heavy work (parsing, chunking) runs on.

Retrieval itself (parsing, chunking, embedding windows, BM25 + dense search,
fusion, filters) is the library ``plinth.knowledge``, which knows nothing of
settings, billing, the database or engines.
"""
