"""A derandomized fuzz sample through every command: exit 0/1/2, no traceback or internal error,
positions inside the file, no forged diagnostic lines, each command under 2 s (see
tests/fuzz.py)."""

import random

import pytest
from fuzz import case, run_case

N = 100


@pytest.mark.parametrize("seed", range(N))
def test_fuzzed_specs_keep_the_contract(seed, tmp_path):
    rng = random.Random(seed)
    text = case(rng)
    problems = run_case(text, tmp_path / "spec.yaml")
    assert not problems, (problems, text[:500])
