"""The fast structure pre-check never calls a document valid that jsonschema rejects, and it
recognises every valid real config (else it would save nothing)."""
import copy
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from engine.config.load import thaw
from engine.config.repository import load_repository
from engine.config.schema.build import KINDS, cached_schema
from engine.config.schema.fast import compile_check
from engine.config.schema.structure import _jsonable
from tests.config.test_properties import keys, structures

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "metric-hub"
CHECKS = {kind: compile_check(cached_schema(kind)) for kind in KINDS}
VALIDATORS = {kind: Draft202012Validator(cached_schema(kind)) for kind in KINDS}


def _documents(root: Path) -> list[tuple[str, object]]:
    repo = load_repository(root)
    return [(kind, repo.documents[path].data) for path, kind in repo.kinds.items()
            if repo.documents[path].ok]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


OWN = _documents(ROOT)
SAMPLES = [(kind, thaw(data)) for kind, data in OWN]
STRINGS = sorted({v for _, data in SAMPLES for v in _strings(data)})


def exact(kind: str, data) -> bool:
    return VALIDATORS[kind].is_valid(_jsonable(thaw(data)))


def test_every_schema_compiles():
    assert all(CHECKS.values())


@pytest.mark.parametrize("root", [ROOT, CORPUS], ids=["ours", "corpus"])
def test_agrees_with_jsonschema_on_real_configs(root):
    documents = _documents(root)
    verdicts = [(CHECKS[kind](data), exact(kind, data)) for kind, data in documents]
    assert all(fast == slow for fast, slow in verdicts)
    assert any(slow for _, slow in verdicts)
    if root == CORPUS:  # the corpus has structure problems too
        assert not all(slow for _, slow in verdicts)


def _edit(draw, value):
    """A same-typed replacement (often still valid), a removal marker, or anything at all."""
    how = draw(st.sampled_from(["same-type", "same-type", "remove", "anything"]))
    if how == "remove":
        return _REMOVE
    if how == "same-type" and isinstance(value, (bool, int, float, str)):
        same = {bool: st.booleans(), int: st.integers(-3, 3), float: st.floats(-3, 3),
                str: st.one_of(st.sampled_from(STRINGS), st.text(max_size=8))}
        return draw(same[type(value)])
    return draw(structures)


_REMOVE = object()


@st.composite
def mutated(draw):
    """A valid config of ours with one to three random edits somewhere inside it."""
    kind, data = draw(st.sampled_from(SAMPLES))
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        node = data
        while isinstance(node, (dict, list)) and node:
            at = (draw(st.sampled_from(sorted(node))) if isinstance(node, dict)
                  else draw(st.integers(0, len(node) - 1)))
            if isinstance(node[at], (dict, list)) and node[at] and draw(st.integers(0, 3)):
                node = node[at]
                continue
            edit = _edit(draw, node[at])
            if edit is not _REMOVE:
                node[at] = edit
            elif isinstance(node, dict):
                del node[at]
            break
        if isinstance(node, dict) and draw(st.integers(0, 4)) == 0:
            node[draw(keys)] = draw(structures)
    return kind, data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_never_valid_when_jsonschema_says_invalid(sample):
    kind, data = sample
    if CHECKS[kind](data):
        assert exact(kind, data)


def test_edge_values_fall_back_to_jsonschema():
    check = compile_check({"type": "object", "properties": {
        "n": {"type": "integer", "exclusiveMinimum": 0},
        "mode": {"enum": ["a", "b"]},
        "day": {"type": "string"},
    }, "additionalProperties": False})
    assert check({"n": 3, "mode": "a", "day": dt.date(2024, 1, 2)})
    assert not check({"n": 0})
    assert not check({"n": True})
    assert not check({"n": 2.0})  # jsonschema accepts an integral float; the exact run decides
    assert not check({"mode": "c"})
    assert not check({"other": 1})
    assert not check([])


def test_conditionals_references_and_unsupported_keywords():
    schema = {"$defs": {"node": {"type": "object", "properties": {"kids": {
        "type": "array", "items": {"$ref": "#/$defs/node"}}}, "if": {"required": ["leaf"]},
        "then": {"properties": {"leaf": {"const": "yes"}}}, "else": {"required": ["kids"]}}},
        "$ref": "#/$defs/node"}
    check = compile_check(schema)
    assert check({"kids": [{"leaf": "yes"}, {"kids": []}]})
    assert not check({"kids": [{"leaf": "no"}]})
    assert not check({})
    assert compile_check({"type": "string", "pattern": "^a"}) is None
    assert compile_check({"$ref": "other.json#/x"}) is None
