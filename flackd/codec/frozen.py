"""A quicker constructor for the frozen dataclasses made once per message.

Owns: :func:`quick_init`. Must not import anything outside the standard library.

A frozen dataclass's generated ``__init__`` stores each field with
``object.__setattr__(self, name, value)``, the generic attribute machinery, because its own
``__setattr__`` refuses: about 1.2 µs for the eight fields of
:class:`flackd.codec.events.Message` on the machine of docs/performance.md, against 0.25 µs
for the same class unfrozen. :func:`quick_init` gives such a class an ``__init__`` that
stores each field through its slot's own descriptor (``member.__set__``, a C call that
skips the lookup), about half the time, and changes nothing else: the same parameters
and defaults (tests/test_codec_frozen.py compares the signatures), and the class stays
frozen, hashable and comparable as before. Used only where a class is made on the hot
path (one per message): the rest keep dataclasses' own constructor.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

__all__ = ["quick_init"]

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` a quicker ``__init__`` (see the module).

    Only plain fields are supported (each an ``__init__`` parameter, positional or
    keyword, with at most a plain default); anything else raises TypeError when the
    class is defined, so a field added later cannot be silently mishandled."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init is for frozen dataclasses with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init does not call __post_init__")
    namespace: dict[str, Any] = {}
    signature: list[str] = []
    body: list[str] = []
    for n, field in enumerate(dataclasses.fields(cast(Any, cls))):
        if not field.init or field.kw_only or field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{field.name}: quick_init takes plain fields only")
        namespace[f"_set{n}"] = cls.__dict__[field.name].__set__
        if field.default is dataclasses.MISSING:
            signature.append(field.name)
        else:
            namespace[f"_default{n}"] = field.default
            signature.append(f"{field.name}=_default{n}")
        body.append(f"    _set{n}(self, {field.name})")
    source = f"def __init__(self, {', '.join(signature)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # made from the class's own field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning a method
    return cls
