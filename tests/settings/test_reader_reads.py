"""settings.reader.ConfigObject, read by read: what each typed read accepts at its bounds, what it refuses with
which message, and that every read (even one answered by its default) counts for the typo check."""

from __future__ import annotations

import re
from typing import Any

import pytest

from settings import ConfigError
from settings.reader import REQUIRED, ConfigObject

KEY = "proj:endpoints[0]"


def obj(**value: Any) -> ConfigObject:
    return ConfigObject(value, KEY)


def refused(message: str) -> Any:
    """pytest.raises for a ConfigError whose whole message is `message`."""
    return pytest.raises(ConfigError, match="^" + re.escape(message) + "$")


# ------------------------------------------------------------------------------------------------ keys
def test_the_full_key_joins_with_the_separator_given():
    assert obj().key_of("name") == f"{KEY}.name"
    assert ConfigObject({}, "proj", sep=":").key_of("kms") == "proj:kms"
    top = ConfigObject({"monitoring": {"email": 1}}, "proj", sep=":")
    child = top.child("monitoring")
    assert child is not None and child.key_of("email") == "proj:monitoring.email"  # nested levels use "."


def test_a_non_object_is_refused_with_its_value():
    with refused(f"{KEY}: expected an object (key: value pairs), got 'text'"):
        ConfigObject("text", KEY)


# ------------------------------------------------------------------------------------------------ has / value_of
def test_has_is_true_for_a_present_null_and_marks_the_key_read():
    o = obj(a=None)
    assert o.has("a") is True and o.has("b") is False
    assert o.read == {"a", "b"}
    o.reject_unknown_keys([])


def test_value_of_returns_the_value_or_the_default_and_marks_the_key_read():
    o = obj(a=0, b=None)
    assert o.value_of("a") == 0  # falsy but present
    assert o.value_of("b", "d") == "d" and o.value_of("c", None) is None
    assert o.read == {"a", "b", "c"}
    with refused(f"{KEY}.c is required and missing"):
        o.value_of("c")
    assert REQUIRED is not None


# ------------------------------------------------------------------------------------------------ text
def test_text_returns_the_string_or_its_default_and_the_default_read_counts():
    o = obj(name="emb", region=None)
    assert o.text("name") == "emb"
    assert o.text("region", "us-east-1") == "us-east-1" and o.text("zone", None) is None
    o.reject_unknown_keys(["name", "region", "zone"])


@pytest.mark.parametrize("value", ["", "   ", 5, ["a"]])
def test_text_refuses_empty_blank_and_non_strings(value: Any):
    with refused(f"{KEY}.name: expected a non-empty string, got {value!r}"):
        obj(name=value).text("name")


def test_text_required_and_missing_is_named():
    with refused(f"{KEY}.name is required and missing"):
        obj().text("name")


def test_text_pattern_errors_say_what_is_allowed_or_show_the_pattern():
    pattern = re.compile(r"^[a-z]+$")
    assert obj(name="abc").text("name", pattern=pattern) == "abc"
    with refused(f"{KEY}.name: 'A1' is not allowed; allowed: lowercase letters"):
        obj(name="A1").text("name", pattern=pattern, allowed="lowercase letters")
    with refused(f"{KEY}.name: 'A1' is not allowed; allowed: ^[a-z]+$"):
        obj(name="A1").text("name", pattern=pattern)


# ------------------------------------------------------------------------------------------------ whole_number
@pytest.mark.parametrize("value", [1, 200, 0 + 1, 100])
def test_whole_number_bounds_are_inclusive(value: int):
    assert obj(n=value).whole_number("n", lo=1, hi=200) == value


@pytest.mark.parametrize(("value", "lo", "hi", "allowed"), [
    (0, 1, 200, "1-200"),
    (201, 1, 200, "1-200"),
    (0, 1, None, ">= 1"),
    (-5, 1, None, ">= 1"),
    (11, None, 10, "<= 10"),
])
def test_whole_number_out_of_range_names_the_range(value: int, lo: int | None, hi: int | None, allowed: str):
    with refused(f"{KEY}.n: {value} is out of range; allowed: {allowed}"):
        obj(n=value).whole_number("n", lo=lo, hi=hi)


def test_whole_number_without_bounds_takes_any_integer():
    assert obj(n=-(10**12)).whole_number("n") == -(10**12)


@pytest.mark.parametrize("value", [True, False, 2.0, "3"])
def test_whole_number_refuses_bools_floats_and_strings_with_the_value(value: Any):
    with refused(f"{KEY}.n: expected a whole number, got {value!r}"):
        obj(n=value).whole_number("n", lo=0, hi=10)


def test_whole_number_default_is_returned_as_given_and_the_read_counts():
    o = obj(n=None)
    assert o.whole_number("n", 7, lo=1, hi=5) == 7  # the default is the code's, not checked against the range
    assert o.whole_number("m", None) is None
    o.reject_unknown_keys(["n", "m"])


# ------------------------------------------------------------------------------------------------ number
def test_number_returns_a_float_for_ints_and_floats():
    v = obj(x=2).number("x")
    assert v == 2.0 and isinstance(v, float)
    assert obj(x=0.25).number("x", hi=1.0) == 0.25


def test_number_open_lower_bound_refuses_the_bound_itself():
    with refused(f"{KEY}.x: 0 is out of range; allowed: > 0.0"):
        obj(x=0).number("x")
    with refused(f"{KEY}.x: 1 is out of range; allowed: > 1"):
        obj(x=1).number("x", lo=1)
    assert obj(x=1.0001).number("x", lo=1) == 1.0001


def test_number_closed_lower_bound_takes_the_bound_and_refuses_below():
    assert obj(x=0).number("x", lo_open=False) == 0.0
    with refused(f"{KEY}.x: -0.5 is out of range; allowed: >= 0.0"):
        obj(x=-0.5).number("x", lo_open=False)


def test_number_upper_bound_is_inclusive_and_named_with_the_lower():
    assert obj(x=1.0).number("x", hi=1.0) == 1.0
    with refused(f"{KEY}.x: 1.5 is out of range; allowed: > 0.0 and <= 1.0"):
        obj(x=1.5).number("x", hi=1.0)
    with refused(f"{KEY}.x: 1.5 is out of range; allowed: >= 0.0 and <= 1.0"):
        obj(x=1.5).number("x", hi=1.0, lo_open=False)


@pytest.mark.parametrize("value", [True, "0.5", [1]])
def test_number_refuses_bools_and_non_numbers(value: Any):
    with refused(f"{KEY}.x: expected a number, got {value!r}"):
        obj(x=value).number("x")


def test_number_default_and_the_read_counts():
    o = obj(x=None)
    assert o.number("x", 0.5) == 0.5 and o.number("y", None) is None
    o.reject_unknown_keys(["x", "y"])


# ------------------------------------------------------------------------------------------------ flag / child
def test_flag_takes_booleans_and_its_default():
    assert obj(f=True).flag("f", False) is True
    assert obj(f=False).flag("f", True) is False
    assert obj().flag("f", True) is True
    with refused(f"{KEY}.f: expected true or false, got 'yes'"):
        obj(f="yes").flag("f", False)
    with refused(f"{KEY}.f: expected true or false, got 1"):
        obj(f=1).flag("f", False)


def test_child_is_none_when_absent_unless_required():
    o = obj(scaling=None)
    assert o.child("scaling") is None and o.child("alarms") is None
    with refused(f"{KEY}.image is required and missing"):
        o.child("image", required=True)
    c = obj(image={"tag": "1"}).child("image", required=True)
    assert c is not None and c.key == f"{KEY}.image" and c.value == {"tag": "1"}
    with refused(f"{KEY}.image: expected an object (key: value pairs), got 'x'"):
        obj(image="x").child("image")


# ------------------------------------------------------------------------------------------------ typo check
def test_the_first_unknown_key_in_order_is_named_with_every_allowed_key_sorted():
    o = obj(zeta=1, alpha=2, name="x")
    o.text("name")
    with refused(f"{KEY}.alpha: unknown key 'alpha' (a typo?); allowed keys: count, name"):
        o.reject_unknown_keys(("name", "count"))
