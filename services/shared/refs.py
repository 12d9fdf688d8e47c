"""Resolves "module:function" handler names, importing a module only when first needed."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any, Callable


@lru_cache(maxsize=None)
def resolve(ref: str) -> Callable[..., Any]:
    module, _, name = ref.partition(":")
    if not name:
        raise ValueError(f"handler reference {ref!r} is not 'module:function'")
    return getattr(importlib.import_module(module), name)
