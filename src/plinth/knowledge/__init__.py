"""Knowledge bases: parsing, chunking, embedding and hybrid (BM25 + dense) retrieval.

The HTTP layer (Files / Vector Stores API) sits on :class:`KnowledgeBase`
(``service.py``); the storage and search backends implement
:class:`KnowledgeIndex` (``index.py``): ``EmbeddedIndex`` on Plinth's own
database, ``MilvusIndex`` on pymilvus / milvus-lite.
"""
