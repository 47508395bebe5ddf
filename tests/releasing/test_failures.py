"""releasing/failures.py: a ReleaseFailure carries its exit code and a message that is also its text (a stage that
reports an exception with `{e}`, as the capacity stage does, shows the message)."""

from __future__ import annotations

from releasing import failures
from releasing.failures import ReleaseFailure


def test_a_release_failure_is_its_code_and_its_message():
    f = ReleaseFailure(failures.EXIT_TIMEOUT, "endpoint e is still Updating")
    assert (f.code, f.message, str(f)) == (11, "endpoint e is still Updating", "endpoint e is still Updating")


def test_every_exit_code_from_0_to_14_has_a_meaning():
    assert sorted(failures.EXIT_CODES) == list(range(15))
    assert len(set(failures.EXIT_CODES.values())) == 15
