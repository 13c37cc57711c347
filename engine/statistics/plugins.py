"""Declarations shared by the statistic and pre-treatment registries.

A plug-in (statistic or pre-treatment) is looked up by its config name; its parameters are
declared once here and feed the JSON Schemas, the validator's messages and the implementation.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Param:
    name: str
    json_type: str | tuple[str, ...]  # JSON Schema "type" of the TOML value
    default: Any = None
    description: str = ""
    required: bool = False
    enum: tuple[Any, ...] | None = None
    # Extra JSON Schema keywords for this parameter (e.g. {"minimum": 0}); must be a plain dict.
    schema_extra: tuple[tuple[str, Any], ...] = ()

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": list(self.json_type) if isinstance(self.json_type, tuple) else self.json_type
        }
        if self.description:
            schema["description"] = self.description
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.default is not None:
            schema["default"] = self.default
        schema.update(dict(self.schema_extra))
        return schema


@dataclass(frozen=True)
class PluginDef:
    name: str
    description: str
    params: tuple[Param, ...] = ()
    # "module:function" of the implementation, imported on first use so that reading the
    # declarations (schemas, validator) never pays for numpy/scipy/pandas imports.
    implementation: str | None = None

    def load(self) -> Callable[..., Any]:
        if self.implementation is None:
            raise LookupError(f"{self.name!r} has no implementation")
        return _load_reference(self.implementation)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if p.default is not None}

    def params_schema(self) -> dict[str, Any]:
        """JSON Schema of the parameter table of this plug-in (strict: unknown keys rejected)."""
        return {
            "type": "object",
            "description": self.description,
            "properties": {p.name: p.json_schema() for p in self.params},
            "required": [p.name for p in self.params if p.required],
            "additionalProperties": False,
        }


@cache
def _load_reference(reference: str) -> Callable[..., Any]:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)
