"""Retrieval as a library: parsing, chunking, windowed embedding, hybrid (BM25 + dense) search.

:class:`KnowledgeBase` (``service.py``) turns text into indexed chunks and
queries into ranked chunks; backends implement :class:`KnowledgeIndex`
(``index.py``): ``plinth.vectorstores.embedded_index.EmbeddedIndex`` on
Plinth's database, ``MilvusIndex`` (``milvus.py``) on pymilvus / milvus-lite.
This package imports nothing of Plinth's settings, billing, store or engines:
the embedder arrives as a plain async callable and blocking work runs where
the caller says (``tests/knowledge/test_kb_import_rule.py`` keeps it so).
"""
