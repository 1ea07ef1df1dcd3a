"""The selection bench: measure candidate models on a workload and rank them.

``config`` (what to run) → ``runner`` (profiles × workloads × candidates over
``client``) → ``metrics`` / ``cost`` / ``matrix`` (the numbers and the ranking)
→ ``store`` (the database) and ``report`` (HTML, Markdown, JSON).
"""
