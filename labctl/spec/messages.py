"""pydantic's errors in the words of someone editing a cohort file; pure.

pydantic says "String should match pattern '^[a-z0-9]...'" or "Input should be greater than 0";
a facilitator needs what the value must look like, with an example, and the value they wrote.
Every error type the models can raise has a sentence here; anything else falls back to
pydantic's text without its "Value error, " prefix.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from labctl.spec import models

# pattern -> what a value of that form looks like
_PATTERNS = {
    models.DNS1123_LABEL: "is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending "
                          "with a letter or digit)",
    r"^[a-z][a-z0-9-]*\.[a-z0-9]+$": "is not an EC2 instance type like g5.xlarge",
    r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$": "is not a Kubernetes quantity like 3, 500m or 12Gi",
    r"^[a-z0-9][a-z0-9._/:@-]*$": "is not a container image like ghcr.io/org/trainer:1.0",
    r"^[a-z]{2}(-gov)?-[a-z]+-\d$": "is not an AWS region like us-east-1",
    r"^1\.\d{2}$": "is not a Kubernetes version like \"1.31\"",
    r"^[A-Za-z0-9._@+-]+$": "is not an e-mail address or user name (letters, digits and . _ @ + -)",
    r"^https?://[A-Za-z0-9.\-\[\]:]+(/.*)?$": "is not a URL like http://localhost:4566",
    r"^[A-Za-z0-9_.-]+$": "is not an AWS profile name (letters, digits and _ . -)",
    r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:-]+$":
        "is not an IAM ARN like arn:aws:iam::123456789012:role/workshop",
}

# Parts of an error location that name a pydantic validator, not a key of the file.
_TAGS = ("function-", "constrained-", "lax-", "json-or-python")
_SCALAR_TAGS = {"str", "int", "float", "bool", "decimal", "datetime", "none", "list", "dict"}


def clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    return tuple(p for p in loc if not (isinstance(p, str) and (p.startswith(_TAGS) or p in _SCALAR_TAGS or "[" in p)))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    return _show(value)


def _unwrap(t: Any) -> Any:
    """Annotated[X, ...] -> X; X | None -> X."""
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            t = typing.get_args(t)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            t = args[0] if args else None
        else:
            return t


def _model_at(root: type[BaseModel] | None, loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class whose field list applies at ``loc`` (for "unknown key" hints)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        origin, args = typing.get_origin(current), typing.get_args(current)
        if isinstance(part, int):
            current = args[0] if origin is list and args else None
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def user_message(error: dict[str, Any], root: type[BaseModel] | None = None) -> str:
    """One pydantic error (from ``ValidationError.errors()``) as a sentence about the file."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    loc = clean_loc(tuple(error["loc"]))
    shown = _show(value)
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1]) if root is not None else None
        if model is None:
            return "unknown key"
        allowed = list(model.model_fields)
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        return f"unknown key ({hint}allowed here: {', '.join(allowed)})"
    if kind == "missing":
        return "is required but missing"
    if kind == "greater_than":
        return f"must be more than {ctx['gt']}, not {shown}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, not {shown}"
    if kind == "less_than":
        return f"must be less than {ctx['lt']}, not {shown}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, not {shown}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, not {shown}"
    if kind == "string_pattern_mismatch":
        return f"{shown} {_PATTERNS.get(ctx.get('pattern', ''), 'is not in the expected form')}"
    if kind == "string_too_long":
        return f"{shown} is longer than {ctx['max_length']} characters"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        n = ctx.get("min_length")
        return f"needs at least {n} {'entry' if n == 1 else 'entries'}"
    if kind == "too_long":
        return f"has {ctx.get('actual_length')} entries, at most {ctx.get('max_length')} are allowed"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, not {_kind(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, not {_kind(value)}"
    if kind in ("decimal_type", "decimal_parsing"):
        return f"must be an amount like 120 or 99.50, not {_kind(value)}"
    if kind == "finite_number":
        return f"must be a finite amount, not {shown}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, not {_kind(value)}"
    if kind == "string_type":
        return f"must be text, not {_kind(value)}"
    if kind.startswith(("datetime_", "date_")):
        return f"{shown} is not a date and time with a timezone, like 2026-12-01T09:00:00Z"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping (key: value lines), not {_kind(value)}"
    if kind == "list_type":
        return f"must be a list, like [a, b], not {_kind(value)}"
    if kind == "decimal_max_places":
        return f"{shown} has more than {ctx.get('decimal_places')} decimal places"
    msg = str(error.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg[:1].lower() + msg[1:]
