"""Building frozen dataclasses in bulk, for the decoders of big dumps.

A frozen dataclass's `__init__` sets every field through `object.__setattr__`
(about 1 µs per instance of ten fields): on 50,000 FDB entries that is a quarter
of a whole snapshot. `maker(cls)` returns a constructor that fills a mutable twin
with the same slots, by plain attribute stores, and then makes it an instance of
`cls` (CPython allows `__class__` assignment between classes of the same slot
layout). The result is an ordinary, equal, hashable, frozen `cls` instance.

`bulk_decoding()` pauses the cyclic garbage collector meanwhile: it wakes every 700
new objects and walks the heap for cycles these objects (strings, numbers, tuples of
them) cannot form, about an eighth of a 50,000-entry snapshot.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from dataclasses import MISSING, fields, make_dataclass
from typing import TypeVar

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[..., T]:
    twin = make_dataclass(
        f"_{cls.__name__}Builder",
        [(f.name, f.type) if f.default is MISSING else (f.name, f.type, f.default) for f in fields(cls)],
        slots=True,
    )
    if twin.__slots__ != cls.__slots__:  # pragma: no cover - a model class changed its layout
        raise TypeError(f"{cls.__name__}: the builder's slots differ")

    def build(*args: object) -> T:
        instance = twin(*args)
        instance.__class__ = cls
        return instance

    build.__doc__ = f"{cls.__name__}(...) at the cost of a mutable dataclass."
    return build


@contextlib.contextmanager
def bulk_decoding() -> Iterator[None]:
    """No cyclic GC while decoding a big dump. Re-enabled by whoever disabled it, so two
    threads decoding at once never leave it off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
