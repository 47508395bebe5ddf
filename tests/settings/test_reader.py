"""settings.reader.ConfigObject: typed reads whose errors name the full key, and the typo check."""

from __future__ import annotations

import pytest

from settings import ConfigError
from settings.reader import ConfigObject


def obj(**value) -> ConfigObject:
    return ConfigObject(value, "proj:endpoints[0]")


def test_a_non_object_is_refused_naming_its_key():
    with pytest.raises(ConfigError, match=r"proj:endpoints\[0\]: expected an object .* got \['a'\]"):
        ConfigObject(["a"], "proj:endpoints[0]")


def test_required_and_null_members():
    o = obj(a=None)
    with pytest.raises(ConfigError, match=r"proj:endpoints\[0\]\.a is required and missing"):
        o.value_of("a")
    assert o.value_of("b", 7) == 7


@pytest.mark.parametrize("value", [True, 1.5, "3"])
def test_whole_number_refuses_bools_floats_and_strings(value):
    with pytest.raises(ConfigError, match=r"\.n: expected a whole number"):
        obj(n=value).whole_number("n")


def test_whole_number_range_is_named():
    with pytest.raises(ConfigError, match=r"\.n: 0 is out of range; allowed: 1-200"):
        obj(n=0).whole_number("n", lo=1, hi=200)


def test_number_bounds_open_and_closed():
    assert obj(x=0.5).number("x", hi=1.0) == 0.5
    with pytest.raises(ConfigError, match=r"allowed: > 0.0 and <= 1.0"):
        obj(x=0).number("x", hi=1.0)
    assert obj(x=0).number("x", lo_open=False) == 0.0


def test_nested_objects_carry_the_full_key():
    child = obj(serverless={"memory_mb": "big"}).child("serverless")
    with pytest.raises(ConfigError, match=r"proj:endpoints\[0\]\.serverless\.memory_mb: expected a whole number"):
        child.whole_number("memory_mb")


def test_keys_nobody_read_are_typos_and_the_error_lists_what_is_allowed():
    o = obj(name="x", max_concurency=3)
    o.text("name")
    with pytest.raises(ConfigError) as e:
        o.reject_unknown_keys(["max_concurrency", "name"])
    assert "proj:endpoints[0].max_concurency: unknown key 'max_concurency'" in str(e.value)
    assert "allowed keys: max_concurrency, name" in str(e.value)


def test_every_key_read_passes_the_typo_check():
    o = obj(name="x", count=2)
    o.text("name"), o.whole_number("count")
    o.reject_unknown_keys(["name", "count"])
