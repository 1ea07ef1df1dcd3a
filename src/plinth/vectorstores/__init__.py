"""Vector stores: the OpenAI Vector Stores feature, in one package.

- ``service.py``: :class:`VectorStores`, the one door every caller uses (the
  API routes, ``/v1/responses`` file_search, Dify's ``/retrieval``, ``plinth kb``),
  and the OpenAI objects it shows (store, file, batch).
- ``build.py``: :func:`build_vector_stores`, the one builder (server and CLI).
- ``ingest.py``: the ingestion queue, the read → parse → chunk → embed → index
  step, and the CPU pool parsing and chunking run on.
- ``retrieve.py``: searching several stores at once (``file_search``).
- ``wire.py``: the request models, and the one mapping of search knobs to
  :class:`~plinth.knowledge.index.SearchOptions`.
- ``catalog.py``: the rows (stores, files, batches, extracted texts).
- ``embedded_index.py``: the default index backend, on Plinth's own database.

Retrieval itself (parsing within upload limits, chunking, windowed embedding,
BM25 + dense search, fusion, filters) is the library ``plinth.knowledge``,
which knows nothing of settings, billing, the database or engines.
"""
