"""The Redis cache keeps one client per connection pool (config/cache.py)."""

from config.cache import RedisCache


def test_the_redis_cache_reuses_its_client_and_still_works(redis_url):
    cache = RedisCache(redis_url, {"KEY_PREFIX": "cache-test"})
    cache.set("answer", {"n": 42}, 30)
    assert cache.get("answer") == {"n": 42}
    assert cache.get_many(["answer", "missing"]) == {"answer": {"n": 42}}
    client = cache._cache.get_client()
    assert cache._cache.get_client() is client  # Django's own builds one per call
    assert cache._cache.get_client(write=True) is client  # one server: one pool
    cache.delete("answer")
    assert cache.get("answer") is None
