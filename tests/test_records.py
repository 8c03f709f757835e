"""provenance/records.py: the NamedTuple of the hook path is typing's, class for class."""

from __future__ import annotations

import pickle
import subprocess
import sys
import typing

import pytest

from provenance import records

_BODY = '''
class Point(Base):
    """A point."""

    x: int
    y: int = 0
    label: str = "p"

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)

    @property
    def twice(self) -> tuple[int, int]:
        return (2 * self.x, 2 * self.y)
'''


def _point(base: object) -> type:
    namespace: dict[str, object] = {"Base": base, "__name__": __name__}
    exec(_BODY, namespace)
    cls = namespace["Point"]
    assert isinstance(cls, type)
    return cls


def _describe(cls: typing.Any) -> dict[str, object]:
    p = cls(3, -4)
    return {
        "fields": cls._fields, "defaults": cls._field_defaults, "doc": cls.__doc__,
        "name": (cls.__name__, cls.__qualname__, cls.__module__), "repr": repr(p),
        "tuple": tuple(p), "eq": p == (3, -4, "p"), "hash": hash(p) == hash((3, -4, "p")),
        "methods": (p.norm(), p.twice), "replace": tuple(p._replace(label="q")),
        "asdict": p._asdict(), "make": tuple(cls._make((1, 2, "z"))), "mro": len(cls.__mro__),
        "annotations": tuple(cls.__annotations__), "slots": cls.__slots__,
        "keywords": tuple(cls(y=1, x=2)),
    }


def test_a_record_is_what_typing_would_build() -> None:
    assert _describe(_point(records.NamedTuple)) == _describe(_point(typing.NamedTuple))


def test_a_record_is_immutable_and_pickles() -> None:
    cls = _point(records.NamedTuple)
    globals()["Point"] = cls  # pickle finds a class by module and name
    try:
        p = cls(1, 2)
        with pytest.raises(AttributeError):
            p.x = 5
        assert pickle.loads(pickle.dumps(p)) == p
    finally:
        del globals()["Point"]


@pytest.mark.parametrize("body", [
    "class Bad(Base):\n    x: int = 0\n    y: int\n",
    "class Bad(Base):\n    x: int\n    def f(self) -> object:\n        return super().__repr__()\n",
])
def test_what_typing_refuses_is_refused(body: str) -> None:
    for base in (typing.NamedTuple, records.NamedTuple):
        with pytest.raises((TypeError, RuntimeError)):  # typing: RuntimeError for super()
            exec(body, {"Base": base, "__name__": __name__})


def test_importing_it_does_not_import_typing() -> None:
    code = "import sys; from provenance import records; print('typing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"
