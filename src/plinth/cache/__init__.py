"""The response cache: identical deterministic requests answered from a store.

``settings`` (who opts in, TTL, bounds), ``backends`` (in-process LRU,
Redis), ``replay`` (a cached answer as a whole response or as a stream) and
``service`` (:class:`ResponseCache`, what the gateway calls: which requests
may be cached, the key of one, lookup and store).
"""
