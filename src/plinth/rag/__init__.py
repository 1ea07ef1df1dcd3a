"""Retrieval-augmented answers for the Responses API's ``file_search`` tool.

``plinth.vectorstores.retrieve`` searches the vector stores and merges the
hits (the store search lives with the stores); ``prompt`` turns them into
numbered sources the model is asked to cite, and ``citations`` turns the
model's ``[n]`` markers into ``file_citation`` annotations. Nothing here
speaks HTTP; ``api/responses.py`` wires it up.
"""
