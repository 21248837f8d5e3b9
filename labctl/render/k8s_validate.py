"""Strict validation of rendered manifests against the upstream Kubernetes schemas, plus the
Terraform consistency check (labctl.render.consistency); pure, no cluster needed.

Schemas come from kubernetes-validate, which ships the upstream OpenAPI as JSON Schema for each
Kubernetes minor, offline. We use its *strict* variants (unknown fields are errors) but drive
jsonschema ourselves: one validator per (version, apiVersion, kind) built once and cached, every
error of an object reported (``iter_errors``, not the first), and one change to the upstream
schema: a ``Quantity`` must be a string in quantity syntax. Upstream accepts numbers there, but
the kubernetes Python client 37 validates bodies client-side and rejects ``cpu: 1``, so a
numeric quantity would pass here and fail at apply.

A kind without a schema (a custom resource) is an error unless the caller allow-lists it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from labctl.errors import Problem
from labctl.render import consistency
from labctl.render.docs import _LOADER, Doc, format_path  # noqa: F401 - Doc and format_path: this module's callers' names

# Standard and extended support on EKS (2026); the lab model accepts any 1.xx, validation refuses
# versions kubernetes-validate has no schemas for.
EKS_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34")
QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
QUANTITY_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"


def parse_files(files: Mapping[str, str]) -> tuple[list[Doc], list[Problem]]:
    docs: list[Doc] = []
    problems: list[Problem] = []
    for rel in sorted(files):
        try:
            objs = [o for o in yaml.load_all(files[rel], Loader=_LOADER) if o is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(rel, mark.line + 1 if mark else None, "", f"not valid YAML: {getattr(exc, 'problem', exc)}"))
            continue
        for i, obj in enumerate(objs):
            if not isinstance(obj, dict):
                problems.append(Problem(rel, None, "", f"document {i + 1} is not a mapping"))
                continue
            docs.append(Doc(rel, obj, files[rel], i))
    return docs, problems


# -- schemas ------------------------------------------------------------------------------------


def _schema_root():  # type: ignore[no-untyped-def]
    import importlib_resources  # kubernetes-validate's own dependency

    return importlib_resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")


@cache
def schema_versions() -> tuple[str, ...]:
    names = [p.name for p in _schema_root().iterdir()]
    return tuple(sorted({re.sub(r"^v(\d+\.\d+)\..*", r"\1", n) for n in names if n.endswith("-strict")},
                        key=lambda v: tuple(int(x) for x in v.split("."))))


def _schema_dir(version: str):  # type: ignore[no-untyped-def]
    return _schema_root().joinpath(f"v{version}.0-local-strict")


DEFS_ID = "https://kubernetes.io/api/_definitions.json"


@cache
def _definitions(version: str) -> dict[str, Any]:
    doc = json.loads(_schema_dir(version).joinpath("_definitions.json").read_text())
    doc["$defs"][QUANTITY_DEF] = {"type": "string", "pattern": QUANTITY_PATTERN, "x-labctl-quantity": True}
    return doc


@cache
def _registry(version: str) -> Registry:
    return Resource.from_contents(_definitions(version)) @ Registry()


def _inline(node: Any, defs: dict[str, Any], stack: tuple[str, ...], memo: dict[str, Any]) -> Any:
    """Replace $refs into the definitions by the definitions themselves (shared, not copied).

    Resolving a $ref is a quarter of jsonschema's time on these schemas; inlining makes a
    30-team cohort validate well inside the one-second budget. A recursive $ref stays a $ref,
    made absolute so it still resolves through the registry.
    """
    if isinstance(node, list):
        return [_inline(v, defs, stack, memo) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and "#/$defs/" in ref:
        name = ref.rsplit("/", 1)[1]
        if name in stack:
            return {**node, "$ref": f"{DEFS_ID}#/$defs/{name}"}
        if name not in memo:
            memo[name] = _inline(defs[name], defs, (*stack, name), memo)
        rest = {k: v for k, v in node.items() if k not in ("$ref", "description")}
        return {**memo[name], **rest} if rest else memo[name]
    return {k: (_inline(v, defs, stack, memo) if k not in ("enum", "required") else v) for k, v in node.items()}


_INLINED: dict[str, dict[str, Any]] = {}


@cache
def validator_for(version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """The strict validator of one kind, built once per process; None if there is no schema."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    f = _schema_dir(version).joinpath(f"{kind.lower()}-{group_version}.json")
    if not f.is_file():
        return None
    schema = json.loads(f.read_text())
    # A file found by short group name may belong to another group with that name (apps/v1 vs
    # apps.example.com/v1): the schema's apiVersion enum rejects the impostor.
    schema = _inline(schema, _definitions(version)["$defs"], (), _INLINED.setdefault(version, {}))
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def _explain(err: jsonschema.ValidationError) -> list[tuple[tuple, str]]:
    path = tuple(err.absolute_path)
    schema = err.schema if isinstance(err.schema, dict) else {}
    if schema.get("x-labctl-quantity"):
        v = err.instance
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return [(path, f"quantity {v!r} is a number; write it as a string ({json.dumps(str(v))}): "
                           "the kubernetes client 37 rejects numeric quantities")]
        return [(path, f"{v!r} is not a quantity (like '500m', '4', '16Gi')")]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = list(schema.get("properties", {}))
        out = []
        for extra in sorted(set(err.instance) - set(known)):
            close = difflib.get_close_matches(extra, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(((*path, extra), f"unknown field {extra!r}{hint}"))
        return out
    if err.validator == "required" and isinstance(err.instance, dict):
        return [(path, f"missing required field {r!r}") for r in err.validator_value if r not in err.instance]
    if err.validator == "enum":
        return [(path, f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}")]
    if err.validator == "type":
        want = [t for t in (err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]) if t != "null"]
        return [(path, f"expected {' or '.join(want)}, got {json.dumps(err.instance)[:60]}")]
    msg = err.message
    return [(path, msg if len(msg) <= 200 else msg[:197] + "...")]


def validate_schema(docs: Iterable[Doc], k8s_version: str,
                    allow_unschematized: frozenset[tuple[str, str]] = frozenset()) -> list[Problem]:
    """Strict schema problems of every object; ``allow_unschematized`` holds (apiVersion, kind)."""
    problems: list[Problem] = []
    if k8s_version not in schema_versions():
        return [Problem("", None, "kubernetes_version",
                        f"no schemas for Kubernetes {k8s_version} (kubernetes-validate has {schema_versions()[0]}..{schema_versions()[-1]})")]
    for d in docs:
        api_version, kind = d.obj.get("apiVersion"), d.obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            problems.append(d.problem((), "apiVersion and kind are required"))
            continue
        v = validator_for(k8s_version, api_version, kind)
        if v is None:
            if (api_version, kind) not in allow_unschematized:
                problems.append(d.problem((), f"no schema for {kind} {api_version} in Kubernetes {k8s_version} "
                                              "(a custom resource without a schema: allow-list it to accept it unchecked)"))
            continue
        found = []
        for err in v.iter_errors(d.obj):
            found += _explain(err)
        for path, msg in sorted(found, key=lambda pm: (d.line(pm[0]) or 0, format_path(pm[0]), pm[1])):
            problems.append(d.problem(path, msg))
    return problems


def validate_team(files: dict[str, str], tfvars: dict, k8s_version: str,
                  allow_unschematized: frozenset[tuple[str, str]] = frozenset()) -> list[Problem]:
    """All problems of one team's rendered manifests: YAML, strict schema, Terraform consistency.

    Each Problem names the file, line, object (Kind/name) and field path.
    """
    docs, problems = parse_files(files)
    problems += validate_schema(docs, k8s_version, allow_unschematized)
    problems += consistency.check(docs, tfvars)
    return problems


# -- many teams: each distinct shape validated once ---------------------------------------------

_TEAM_TOKEN = "\x00team\x00"      # never in rendered YAML or JSON text (JSON escapes NUL)


def shape(team: str, own_names: Iterable[str], files: Mapping[str, str], tfvars: Mapping[str, Any],
          k8s_version: str, allow_unschematized: frozenset[tuple[str, str]] = frozenset()) -> str:
    """A team's manifests and tfvars with its own names taken out: teams of one shape differ
    only in those names.

    Why that is enough to share a verdict: the checks read a team's names only to compare them
    with each other (namespace against namespace, cluster name against the tfvars' cohort-team),
    never for their spelling; the spelling is the spec's business (DNS-1123 labels, AWS name
    lengths, checked per team before anything renders). ``own_names`` are the team's other own
    values (its checkpoint bucket's hashed name, its members), each replaced by a token of its
    position, so two teams share a shape only if theirs stand in the same places. The team's name is
    replaced where it stands as a word of its own (between characters that cannot be part of a
    name), so a name that happens to occur inside fixed text (a team called ``gpu``) only
    makes that team a shape of its own, never mistaken for another.
    """
    # The name as templates may spell it: plain, regex-escaped (the autoscaler's priority
    # patterns), and that inside a JSON string.
    spellings = sorted({team, re.escape(team), json.dumps(re.escape(team))[1:-1]}, key=len, reverse=True)
    word = re.compile(rf"(?<![a-z0-9])(?:{'|'.join(map(re.escape, spellings))})(?![a-z0-9])")

    owns = sorted(((own, f"\x00own{i}\x00") for i, own in enumerate(own_names) if own), key=lambda o: -len(o[0]))

    def norm(text: str) -> str:
        for own, token in owns:
            text = text.replace(own, token)
        return word.sub(_TEAM_TOKEN, text)

    h = hashlib.sha256()
    h.update(f"{k8s_version}\0{sorted(allow_unschematized)}\0".encode())
    for rel in sorted(files):
        h.update(f"{rel}\0{norm(files[rel])}\0".encode())
    h.update(norm(json.dumps(tfvars, sort_keys=True)).encode())
    return h.hexdigest()


@dataclass
class ShapeCache:
    """Clean verdicts by shape (:func:`shape`). Only a clean verdict is shared: a team with a
    problem is always validated itself, so every problem names its own file, line and object."""

    clean: set[str] = field(default_factory=set)
    validated: int = 0           # teams validated in full
    shared: int = 0              # teams that took a verdict of their shape

    def validate_team(self, team: str, own_names: Iterable[str], files: dict[str, str], tfvars: dict,
                      k8s_version: str, allow_unschematized: frozenset[tuple[str, str]] = frozenset(),
                      *, new_shape: Callable[[], object] | None = None) -> list[Problem]:
        """The team's problems; ``new_shape`` runs first when the team is validated in full (the
        caller's own per-shape checks)."""
        key = shape(team, own_names, files, tfvars, k8s_version, allow_unschematized)
        if key in self.clean:
            self.shared += 1
            return []
        if new_shape is not None:
            new_shape()
        self.validated += 1
        problems = validate_team(files, tfvars, k8s_version, allow_unschematized)
        if not problems:
            self.clean.add(key)
        return problems
