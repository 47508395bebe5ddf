"""Client errors carry an HTTP status and a reason (inference/handlers/sls_errors.py).

The local server and sagemaker-inference's Transformer answer with `status_code` and `message`; our handlers
and the local server read `reason`. Without the toolkit (local server, tests) a stand-in base class with the
toolkit's attributes is used.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inference.handlers import sls_errors
from inference.handlers.sls_errors import (
    RequestError,
    bad_request,
    not_acceptable,
    too_large,
    unsupported_media_type,
)


@pytest.mark.parametrize(("make", "status"), [
    (bad_request, 400),
    (not_acceptable, 406),
    (too_large, 413),
    (unsupported_media_type, 415),
], ids=["bad_request", "not_acceptable", "too_large", "unsupported_media_type"])
def test_each_helper_gives_its_status_and_keeps_the_reason(make: Callable[[str], RequestError], status: int) -> None:
    e = make("instances[0].hour = 25 is out of range")
    assert isinstance(e, RequestError) and isinstance(e, Exception)
    assert e.status_code == status
    assert e.reason == e.message == e.phrase == "instances[0].hour = 25 is out of range"
    assert str(e) == f"{status}: instances[0].hour = 25 is out of range"


def test_a_request_error_is_raised_and_caught_as_what_the_toolkit_expects() -> None:
    with pytest.raises(sls_errors._Base) as info:
        raise bad_request("malformed JSON")
    assert info.value.status_code == 400 and info.value.message == "malformed JSON"


@pytest.mark.skipif(sls_errors._Base.__module__ != sls_errors.__name__, reason="the real toolkit is installed")
def test_the_stand_in_base_has_the_toolkits_defaults() -> None:
    plain = sls_errors._Base(400)
    assert (plain.status_code, plain.message, plain.phrase) == (400, "Invalid Request", "Invalid Request")
    assert plain.args == (400, "Invalid Request", "Invalid Request")
    given = sls_errors._Base(404, "no such thing")
    assert (given.message, given.phrase) == ("no such thing", "no such thing")
    both = sls_errors._Base(409, "message", "phrase")
    assert (both.message, both.phrase, both.args) == ("message", "phrase", (409, "message", "phrase"))
