"""``chaosdrill plugins``: every fault, probe and target kind, its origin and parameters."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from chaos.registry import Registry


def _params(model: type[BaseModel]) -> list[dict[str, Any]]:
    out = []
    for name, info in model.model_fields.items():
        out.append(
            {
                "name": info.alias or name,
                "type": _type_name(info.annotation, info.metadata),
                "required": info.is_required(),
                "default": None
                if info.is_required()
                else _plain(info.get_default(call_default_factory=True)),
            }
        )
    return out


def _plain(value: Any) -> Any:
    """A default as JSON data; what JSON cannot hold is shown as its repr."""
    from pydantic_core import to_jsonable_python

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    return to_jsonable_python(value, fallback=repr)


def _named_validators() -> dict[Any, str]:
    """Annotated types chaosdrill defines, shown by the name users write them as."""
    from chaos.durations import parse_duration
    from chaos.signals import parse_signal

    return {parse_duration: "duration", parse_signal: "signal"}


def _type_name(annotation: Any, metadata: Iterable[Any] = ()) -> str:
    """A short, readable type: ``duration | None`` rather than pydantic's Annotated repr."""
    named = _named_validators()
    for item in metadata:
        func = getattr(item, "func", None)
        if func is not None and func in named:
            return named[func]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0], args[1:])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in args)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(arg) for arg in args) + "]"
    if annotation is type(None):
        return "None"
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(_type_name(arg) for arg in args)}]" if args else name
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def describe_plugins(registry: Registry) -> dict[str, Any]:
    def entry(reg: Any, **extra: Any) -> dict[str, Any]:
        cls = reg.cls
        model = getattr(cls, "Params", None) or getattr(cls, "Selector", None) or cls.Control
        return {
            "name": cls.name,
            "origin": reg.origin,
            "summary": cls.summary,
            "parameters": _params(model),
            **extra,
        }

    return {
        "faults": [
            entry(r, reversible=r.cls.reversible, target_kinds=list(r.cls.target_kinds))
            for r in sorted(registry.faults.values(), key=lambda r: r.cls.name)
        ],
        "probes": [
            entry(r, accepts_target=r.cls.accepts_target)
            for r in sorted(registry.probes.values(), key=lambda r: r.cls.name)
        ],
        "target_kinds": [
            entry(r) for r in sorted(registry.target_kinds.values(), key=lambda r: r.cls.name)
        ],
        "node_controllers": [
            entry(r, actions=list(r.cls.actions))
            for r in sorted(registry.node_controllers.values(), key=lambda r: r.cls.name)
        ],
        "failures": [{"plugin": f.plugin, "error": f.error} for f in registry.failures],
    }


def print_plugins(registry: Registry) -> None:
    data = describe_plugins(registry)
    for section, title in (
        ("faults", "Faults"),
        ("probes", "Probes"),
        ("target_kinds", "Target kinds"),
        ("node_controllers", "Node controllers"),
    ):
        print(f"{title}:")
        for item in data[section]:
            flags = []
            if item.get("reversible"):
                flags.append("reversible")
            if item.get("accepts_target"):
                flags.append("takes target")
            flag_text = f" [{', '.join(flags)}]" if flags else ""
            print(f"  {item['name']}  ({item['origin']}){flag_text}")
            if item["summary"]:
                print(f"      {item['summary']}")
            for param in item["parameters"]:
                default = "required" if param["required"] else f"default {param['default']!r}"
                print(f"      - {param['name']}: {param['type']} ({default})")
        print()
    if data["failures"]:
        print("Plugins that failed to load:")
        for failure in data["failures"]:
            print(f"  {failure['plugin']}: {failure['error']}")
