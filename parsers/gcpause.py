"""Pausing Python's cyclic garbage collector while a decoder builds many objects that hold no cycles.

The collector runs after every few hundred new container objects and, as the objects live on, scans every
one of them again in its older generations; a decoder that builds a message, a source reference and an
argument tuple per record would spend more time in those scans than in decoding. The objects are freed by
reference counting like any other; only the cycle search is put off until the pause ends (as Mercurial's
``util.nogc`` does for its large containers).
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off, restoring its state after (nested pauses keep it off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
