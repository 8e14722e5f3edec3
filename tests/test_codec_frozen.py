"""flackd.codec.frozen.quick_init: the same class as dataclasses makes it, constructed sooner."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass

import pytest

from flackd.codec.commands import Msg
from flackd.codec.events import Message
from flackd.codec.frozen import quick_init


def _params(cls: type) -> list[tuple[str, object, object]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    ]


def _twin(cls: type) -> type:
    """The same fields as a frozen slotted dataclass with dataclasses' own constructor."""
    fields = [
        (f.name, f.type, dataclasses.field(default=f.default))
        if f.default is not dataclasses.MISSING
        else (f.name, f.type)
        for f in dataclasses.fields(cls)
    ]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True)


@pytest.mark.parametrize("cls", [Message, Msg])
def test_the_hot_classes_take_the_same_parameters_as_dataclasses_makes_them(cls: type) -> None:
    assert cls.__init__.__qualname__ == f"{cls.__name__}.__init__"  # type: ignore[misc]
    assert _params(cls) == _params(_twin(cls))


def test_message_is_built_as_before_and_stays_frozen() -> None:
    twin = _twin(Message)
    cases: list[tuple[tuple[object, ...], dict[str, object]]] = [
        (("#a", "1-2", "t", "bob", "hi"), {}),
        (("#a", "1-2", "t", "bob", "hi", True), {"notice": True}),
        ((), {"target": "bob", "id": "1-3", "time": "t", "author": "al", "text": "x"}),
        (("#a", "1-2", "t", "bob", "hi"), {"edited": "2026-12-04T00:00:00.000Z"}),
    ]
    for args, kwargs in cases:
        ours, theirs = Message(*args, **kwargs), twin(*args, **kwargs)  # type: ignore[arg-type]
        assert dataclasses.astuple(ours) == dataclasses.astuple(theirs)
    message = Message("#a", "1-2", "t", "bob", "hi")
    assert message == Message("#a", "1-2", "t", "bob", "hi")
    assert hash(message) == hash(Message("#a", "1-2", "t", "bob", "hi"))
    assert message != Message("#a", "1-2", "t", "bob", "hi", action=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(message)) == message
    assert dataclasses.replace(message, text="edited").text == "edited"
    with pytest.raises(TypeError):
        Message("#a", "1-2", "t", "bob")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Message("#a", "1-2", "t", "bob", "hi", colour="red")  # type: ignore[call-arg]
    match Msg("#a", "hello"):
        case Msg(target, text):
            assert (target, text) == ("#a", "hello")


def test_what_it_cannot_do_faithfully_is_refused_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="frozen dataclasses with slots"):

        @quick_init
        @dataclass(slots=True)
        class NotFrozen:
            a: int

    with pytest.raises(TypeError, match="frozen dataclasses with slots"):

        @quick_init
        @dataclass(frozen=True)
        class NoSlots:
            a: int

    with pytest.raises(TypeError, match="__post_init__"):

        @quick_init
        @dataclass(frozen=True, slots=True)
        class Checked:
            a: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="plain fields only"):

        @quick_init
        @dataclass(frozen=True, slots=True)
        class Factory:
            a: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="plain fields only"):

        @quick_init
        @dataclass(frozen=True, slots=True, kw_only=True)
        class KeywordOnly:
            a: int
