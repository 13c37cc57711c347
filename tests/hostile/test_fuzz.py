"""Fuzz test (bounded examples; `python -m bench.fuzz_hostile` runs thousands): real corpus configs
mutated structurally (deep nesting, huge arrays, template recursion and loops, deep SQL, junk
bytes, truncation) go through the validator: findings, never a traceback."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.check.validate import validate
from engine.config.repository import load_repository
from tests.hostile.mutations import CORPUS, MUTATIONS, corpus_configs

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
CONFIGS = corpus_configs()[::10]  # 39 real experiment configs


@pytest.fixture(scope="module")
def corpus():
    return load_repository(CORPUS)


@FUZZ
@given(config=st.sampled_from(CONFIGS), mutation=st.sampled_from(sorted(MUTATIONS)),
       position=st.floats(0, 0.999), size=st.floats(0, 0.999))
def test_mutated_corpus_configs_give_findings_never_a_traceback(corpus, tmp_path_factory, config,
                                                               mutation, position, size):
    target = tmp_path_factory.mktemp("fuzz") / config.name
    target.write_bytes(MUTATIONS[mutation](config.read_text(), position, size))
    report = validate(CORPUS, [target], repository=corpus)  # raises on a bug
    assert all(f.code and f.severity for f in report.findings)
