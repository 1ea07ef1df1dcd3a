"""Third-party code copied into Plinth, unchanged, with its licence beside it.

``jieba/``: the core of jieba 0.42.1 (MIT, https://github.com/fxsjy/jieba), the
Chinese segmenter of the knowledge base's BM25 (knowledge/segment.py). Only
what ``cut_for_search`` needs is copied: the package's ``__init__.py`` and
``_compat.py``, its dictionary ``dict.txt`` and the HMM in ``finalseg/``
(byte for byte). The jieba wheel is 42 MB installed, 34 MB of it part-of-speech
tagging, keyword extraction and a paddle model that Plinth never imports, and
a wheel cannot be installed in part. tests/knowledge/test_vendored_jieba.py
checks that the copy segments as the jieba package does (in the test extra).
"""
