"""``chaosdrill plugins``: every fault, probe and target kind, its origin and parameters."""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import linecache
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from chaos.fault import Fault
from chaos.registry import Registry

if TYPE_CHECKING:
    from chaos.plugins import PluginSource


def _params(model: type[BaseModel]) -> list[dict[str, Any]]:
    docs = field_docs(model)
    out = []
    for name, info in model.model_fields.items():
        item = {
            "name": info.alias or name,
            "type": _type_name(info.annotation, info.metadata),
            "required": info.is_required(),
            "default": None
            if info.is_required()
            else _plain(info.get_default(call_default_factory=True)),
        }
        description = info.description or docs.get(name)
        if description:
            item["description"] = description
        out.append(item)
    return out


@functools.cache
def field_docs(model: type) -> dict[str, str]:
    """Each field's docstring (the string literal right under it), from the
    model's source and its bases': what plugin authors write to explain a
    parameter. Models whose source cannot be read give none."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if cls in (object, BaseModel) or not issubclass(cls, BaseModel):
            continue
        node = _class_statement(cls)
        body = node.body if node is not None else []
        for item, after in itertools.pairwise(body):
            if (
                isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[item.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def _class_statement(cls: type) -> ast.ClassDef | None:
    """The ``class`` statement that defined ``cls``, found by its qualified name as
    :func:`inspect.getsource` finds it, or None when its source cannot be read."""
    try:
        filename = inspect.getsourcefile(cls)
    except TypeError:
        return None
    if not filename:
        return None
    module = sys.modules.get(cls.__module__)
    linecache.checkcache(filename)
    source = "".join(linecache.getlines(filename, module.__dict__ if module else None))
    return _class_statements(source).get(cls.__qualname__)


@functools.lru_cache(maxsize=64)
def _class_statements(source: str) -> dict[str, ast.ClassDef]:
    """Every ``class`` statement in a module's source by qualified name, the first
    of each name: a module is parsed once, however many of its classes are looked up."""
    found: dict[str, ast.ClassDef] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                found.setdefault(prefix + child.name, child)
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, f"{prefix}{child.name}.<locals>.")
            else:
                visit(child, prefix)

    try:
        visit(ast.parse(source), "")
    except (SyntaxError, ValueError):
        return {}
    return found


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


FORMAT = "chaosdrill.plugins/1"
"""The ``format`` of ``chaosdrill plugins --json``: keys are only ever added under it."""


def describe_plugins(
    registry: Registry, sources: Mapping[str, PluginSource] | None = None
) -> dict[str, Any]:
    """What ``chaosdrill plugins --json`` prints (docs/plugins.md describes each key).

    ``sources`` (:attr:`chaos.plugins.Plugins.sources`) says where each plugin
    comes from; without it an entry's ``plugin`` names only the plugin.
    """
    sources = sources or {}

    def entry(reg: Any, model: type[BaseModel], **extra: Any) -> dict[str, Any]:
        cls = reg.cls
        source = sources.get(reg.plugin)
        return {
            "name": cls.name,
            "origin": reg.origin,
            "plugin": source.to_json() if source else {"name": reg.plugin or None},
            "summary": cls.summary,
            "description": _description(cls),
            "parameters": _params(model),
            "schema": _schema(model),
            **extra,
        }

    return {
        "format": FORMAT,
        "faults": [
            entry(
                r,
                r.cls.Params,
                reversible=r.cls.reversible,
                watchdog=r.cls.reversible and r.cls.watchdog is not Fault.watchdog,
                target_kinds=list(r.cls.target_kinds),
            )
            for r in sorted(registry.faults.values(), key=lambda r: r.cls.name)
        ],
        "probes": [
            entry(r, r.cls.Params, accepts_target=r.cls.accepts_target)
            for r in sorted(registry.probes.values(), key=lambda r: r.cls.name)
        ],
        "target_kinds": [
            entry(r, r.cls.Selector)
            for r in sorted(registry.target_kinds.values(), key=lambda r: r.cls.name)
        ],
        "node_controllers": [
            entry(r, r.cls.Control, actions=list(r.cls.actions))
            for r in sorted(registry.node_controllers.values(), key=lambda r: r.cls.name)
        ],
        "failures": [{"plugin": f.plugin, "error": f.error} for f in registry.failures],
    }


def _description(cls: type) -> str:
    """The class's own docstring (not one inherited from the interface), else its summary."""
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else cls.summary


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """The parameters' JSON Schema (as ``chaosdrill schema`` embeds it), with each
    field's docstring as its ``description``; a model pydantic cannot express in
    JSON Schema gets ``{}`` (anything) rather than failing the whole listing."""
    try:
        schema = model.model_json_schema(by_alias=True)
    except Exception:
        return {}
    properties = schema.get("properties", {})
    docs = field_docs(model)
    for name, info in model.model_fields.items():
        prop = properties.get(info.alias or name)
        doc = docs.get(name)
        if isinstance(prop, dict) and doc and "description" not in prop:
            prop["description"] = doc
    return schema


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
