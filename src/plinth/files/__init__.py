"""Uploaded files: the OpenAI Files API's storage and records."""
