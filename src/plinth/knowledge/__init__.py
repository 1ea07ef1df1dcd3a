"""Retrieval as a library: parsing within upload limits, chunking and windowed embedding,
BM25 terms, filters, and hybrid (BM25 + dense) search with fusion.

The parts are composed by the application (``plinth.vectorstores``): text is
parsed (``parsing``), chunked and analysed (``chunking``, ``segment``),
embedded through a plain async callable (``chunking.WindowedEmbedder``) and
written to a backend implementing :class:`~plinth.knowledge.index.KnowledgeIndex`:
``plinth.vectorstores.embedded_index.EmbeddedIndex`` on Plinth's database
(searching with ``memory``), or ``MilvusIndex`` (``milvus.py``). Every knob of
a search is one :class:`~plinth.knowledge.index.SearchOptions`.

This package imports nothing of Plinth's settings, billing, store or engines
(``tests/knowledge/test_kb_import_rule.py`` keeps it so), and runs no
blocking work of its own off the loop: its callers decide where it runs.
"""
