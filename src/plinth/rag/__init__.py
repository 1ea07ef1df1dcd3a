"""Retrieval-augmented answers for the Responses API's ``file_search`` tool.

``retrieve`` searches the knowledge base's stores and merges the hits,
``prompt`` turns them into numbered sources the model is asked to cite, and
``citations`` turns the model's ``[n]`` markers into ``file_citation``
annotations. Nothing here speaks HTTP; ``api/responses.py`` wires it up.
"""
