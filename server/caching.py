"""An in-process LRU cache bounded in bytes, thread-safe, with single flight."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

import numpy as np

V = TypeVar("V")
_SMALL = 64  # what a scalar, None or a small object is counted as


def sizeof(value: Any) -> int:
    """Bytes held by a value, roughly: ndarray.nbytes and len() of bytes and str, summed
    over dataclass fields, tuples, lists, sets and dicts (keys too)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, bytes | bytearray | str):
        return len(value)
    names = _dataclass_fields(type(value))
    if names is not None:
        return sum(sizeof(getattr(value, name)) for name in names)
    if isinstance(value, dict):
        return sum(sizeof(k) + sizeof(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return sum(sizeof(v) for v in value)
    return _SMALL


@functools.cache
def _dataclass_fields(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type (None for other types), found once per type: a
    result holds a few dozen dataclass instances, and fields() is slow."""
    return tuple(f.name for f in fields(cls)) if is_dataclass(cls) else None


class _Flight:
    """One computation under way, which callers asking for the same key wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None


class ByteLRU:
    """A thread-safe LRU cache whose values together take at most ``max_bytes`` (as ``sizer``
    counts them). A value larger than that is returned but not kept. Equal keys asked for
    at the same time are computed once: the others wait for the first (single flight)."""

    def __init__(self, max_bytes: int, sizer: Callable[[Any], int] = sizeof):
        self.max_bytes, self.sizer = max_bytes, sizer
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self.bytes = self.hits = self.misses = self.evictions = 0
        self.waiting = 0  # callers waiting for another's computation of their key

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                self.misses += 1
                return default
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key][0]

    def put(self, key: Hashable, value: Any) -> bool:
        """Keep value, evicting the least recently used; False if it alone is too large."""
        size = self.sizer(value)
        with self._lock:
            if key in self._items:
                self.bytes -= self._items.pop(key)[1]
            if size > self.max_bytes:
                return False
            while self.bytes + size > self.max_bytes:
                self.bytes -= self._items.popitem(last=False)[1][1]
                self.evictions += 1
            self._items[key] = (value, size)
            self.bytes += size
            return True

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key][0]
                flight = self._flights.get(key)
                owner = flight is None
                if owner:
                    self.misses += 1
                    flight = self._flights[key] = _Flight()
                else:
                    self.waiting += 1
            if not owner:
                flight.done.wait()
                with self._lock:
                    self.waiting -= 1
                if flight.ok:
                    return flight.value
                continue  # the first caller failed: try again (and likely fail the same way)
            try:
                flight.value = compute()
                flight.ok = True
                self.put(key, flight.value)
                return flight.value
            finally:
                with self._lock:
                    del self._flights[key]
                flight.done.set()
