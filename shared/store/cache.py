"""Least-recently-used caches bounded by the bytes of what they hold, one per
database engine: what they cache is read from that database (tests open many
engines; a process in production one)."""

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.engine import Engine

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BytesLRU(Generic[K, V]):
    def __init__(self, budget: int):
        self.budget = budget
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # Database threads share it.

    def get(self, key: K, load: Callable[[], tuple[V, int]]) -> V:
        """The value of `key`, loaded (as the value and its size in bytes) when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value, size = load()  # Outside the lock: loading reads the database.
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, size)
                self._bytes += size
                while self._bytes > self.budget and len(self._items) > 1:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self._bytes -= dropped
        return value


class PerEngine(Generic[K, V]):
    """A BytesLRU per engine, which goes with its engine."""

    def __init__(self, budget: int):
        self.budget = budget
        self._caches: weakref.WeakKeyDictionary[Engine, BytesLRU[K, V]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, engine: Engine) -> BytesLRU[K, V]:
        with self._lock:
            cache = self._caches.get(engine)
            if cache is None:
                cache = self._caches[engine] = BytesLRU(self.budget)
            return cache
