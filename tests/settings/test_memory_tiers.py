"""Serverless memory sizes (MemorySizeInMB): 1024 to 6144 MB in 1 GB steps, nothing in between.

AWS (serverless-endpoints, docs/aws-facts.md) accepts exactly 1024, 2048, 3072, 4096, 5120 and 6144. The
expected tiers here are derived from that rule, not copied from inference/limits.py, and every in-range value
that is not a 1 GB step is tried: a tier list that gained 3000 or 1536 would be caught.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from inference.limits import MEMORY_TIERS_MB
from settings import ConfigError, validate
from settings.reader import ConfigObject
from settings.rules import _serverless

GB = 1024
AWS_TIERS = tuple(n * GB for n in range(1, 7))  # 1 GB steps from 1 GB to 6 GB
SERVERLESS_KEY = "sls-endpoints:endpoints[0].serverless"
KEY = f"{SERVERLESS_KEY}.memory_mb"


def with_memory(raw: dict[str, Any], memory_mb: Any) -> dict[str, Any]:
    bad = copy.deepcopy(raw)
    bad["endpoints"][0]["serverless"]["memory_mb"] = memory_mb
    return bad


def test_the_limits_list_is_exactly_the_aws_tiers_in_order():
    assert MEMORY_TIERS_MB == AWS_TIERS


@pytest.mark.parametrize("memory_mb", AWS_TIERS)
def test_every_tier_is_accepted(raw, memory_mb: int):
    s = validate(with_memory(raw, memory_mb), stack="dev", region="us-east-1")
    assert s.endpoints[0].serverless is not None
    assert s.endpoints[0].serverless.memory_mb == memory_mb


def test_every_value_between_the_tiers_is_refused_by_the_serverless_rule():
    """All 5115 values in 1025..6143 that are not a multiple of 1024 (one loop: a clear list of the accepted).

    The rule itself (settings.rules._serverless) is called, not the whole of validate(): the same check, 5115
    times, in a fraction of the time (the mutation run repeats this test for every mutant of the rules)."""
    accepted = []
    for memory_mb in range(AWS_TIERS[0], AWS_TIERS[-1] + 1):
        if memory_mb % GB == 0:
            continue
        o = ConfigObject({"memory_mb": memory_mb, "max_concurrency": 5}, SERVERLESS_KEY)
        try:
            _serverless(o)
        except ConfigError as e:
            message = str(e)
            assert message.startswith(f"{KEY}: {memory_mb} is not a serverless memory size"), message
            assert "allowed: one of 1024, 2048, 3072, 4096, 5120, 6144" in message, message
        else:
            accepted.append(memory_mb)
    assert accepted == [], f"{KEY}: values that are not a 1 GB step were accepted: {accepted[:20]}"


@pytest.mark.parametrize("memory_mb", [1025, 1536, 2047, 2049, 3000, 3071, 4000, 5119, 5121, 6000, 6143])
def test_values_between_the_tiers_are_refused_by_validate_naming_the_key_value_and_tiers(raw, memory_mb: int):
    message = (f"{KEY}: {memory_mb} is not a serverless memory size; "
               "allowed: one of 1024, 2048, 3072, 4096, 5120, 6144")
    with pytest.raises(ConfigError, match="^" + re.escape(message) + "$"):
        validate(with_memory(raw, memory_mb), stack="dev", region="us-east-1")


@pytest.mark.parametrize("memory_mb", [0, 512, 1023, 6145, 7168, 8192, 10240, -1024])
def test_values_outside_the_range_are_refused(raw, memory_mb: int):
    with pytest.raises(ConfigError, match="^" + re.escape(f"{KEY}: {memory_mb} is not a serverless memory size")):
        validate(with_memory(raw, memory_mb), stack="dev", region="us-east-1")


@pytest.mark.parametrize("memory_mb", [2048.0, "2048", True])
def test_memory_must_be_a_whole_number(raw, memory_mb: Any):
    with pytest.raises(ConfigError, match="^" + re.escape(f"{KEY}: expected a whole number")):
        validate(with_memory(raw, memory_mb), stack="dev", region="us-east-1")


def test_memory_is_required_on_a_serverless_endpoint(raw):
    with pytest.raises(ConfigError, match="^" + re.escape(f"{KEY} is required and missing")):
        validate(with_memory(raw, None), stack="dev", region="us-east-1")
