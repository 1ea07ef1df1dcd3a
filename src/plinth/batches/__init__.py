"""The OpenAI Batch API: JSONL files of requests run in the background.

``validation`` checks an input file line by line, ``store`` keeps the batch
and the outcome of each line, ``lines`` runs one line through the gateway
(the interactive path: privacy, budgets, routing, ledger), ``outputs`` writes
the output and error files, and ``runner`` drives batches at a lower priority
than interactive traffic.
"""
