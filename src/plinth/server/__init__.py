"""The HTTP server's own defences: connection caps, read timeouts, keep-alive limits.

``limits`` holds the settings, ``guard`` the accounting of open connections,
``protocol`` the uvicorn protocol that applies both, ``run`` starts uvicorn
with them (``plinth serve``).
"""
