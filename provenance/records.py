"""`NamedTuple` for the modules a commit hook imports, without importing `typing` (~5-7 ms a commit).

To mypy this is typing's NamedTuple. At run time, `class X(NamedTuple)` builds the same class
typing would: `collections.namedtuple` of the annotated fields, their defaults, and the class
body's methods and docstring (tests/test_records.py compares the two).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    from collections import namedtuple

    # What the class statement puts in a body besides fields and methods.
    _IMPLICIT = frozenset({"__module__", "__qualname__", "__annotations__", "__doc__"})

    class _Record(type):
        def __new__(mcls, name, bases, namespace):
            if "__classcell__" in namespace:  # typing refuses it too
                raise TypeError("super() is not supported in a NamedTuple")
            fields = tuple(namespace.get("__annotations__", {}))
            defaults = [namespace[f] for f in fields if f in namespace]
            if any(f not in namespace for f in fields[len(fields) - len(defaults):]):
                raise TypeError(f"{name}: a field without a default follows one with a default")
            cls = namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            cls.__annotations__ = dict(namespace.get("__annotations__", {}))
            cls.__qualname__ = namespace.get("__qualname__", name)
            if namespace.get("__doc__") is not None:
                cls.__doc__ = namespace["__doc__"]
            for key, value in namespace.items():
                if key not in _IMPLICIT and key not in fields:
                    setattr(cls, key, value)
            return cls

    NamedTuple = type.__new__(_Record, "NamedTuple", (), {})
