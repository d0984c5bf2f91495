"""The byte-bounded caches that keep versions' plans (API) and steps' content (worker)."""

import pytest

from shared.store.cache import BytesLRU

pytestmark = pytest.mark.unit


def test_the_least_recently_used_go_once_the_bytes_pass_the_budget() -> None:
    cache: BytesLRU[str, str] = BytesLRU(budget=10)
    loads: list[str] = []

    def get(key: str, size: int) -> str:
        return cache.get(key, lambda: (loads.append(key), (key.upper(), size))[1])

    assert [get("a", 4), get("b", 4), get("a", 4)] == ["A", "B", "A"]
    get("c", 4)  # 12 bytes: "b", the least recently used, goes.
    assert [get("a", 4), get("c", 4), get("b", 4)] == ["A", "C", "B"]
    assert loads == ["a", "b", "c", "b"]
    get("huge", 50)  # Over the budget alone: kept, as the only one.
    get("huge", 50)
    assert loads[-1:] == ["huge"] and len(loads) == 5
