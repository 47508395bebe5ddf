"""Exit codes of `python release.py` and the one exception a stage raises to stop the release.

Why: CI acts on the exit code, and a person on the message; each failure kind has its own code, and each
message names what was wrong and what to do about it. 0-4 keep the meanings release.py always had.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # pulumi preview / up / refresh / destroy failed
EXIT_USAGE = 2  # bad arguments or config, confirmation refused: nothing touched
EXIT_PULUMI = 3  # the Pulumi CLI is missing or unusable, or the stack does not exist
EXIT_CANNOT_BUILD = 4  # this machine cannot build the artifacts
EXIT_NOT_LOGGED_IN = 5  # no Pulumi backend login
EXIT_NO_AWS_CREDENTIALS = 6
EXIT_WRONG_REGION = 7  # the AWS region configured here is not the stack's aws:region
EXIT_LOCKED = 8  # another update holds the stack's lock
EXIT_REFUSED = 9  # the plan replaces or deletes an endpoint and --allow-replace was not given
EXIT_ENDPOINT_FAILED = 10  # an endpoint ended Failed (its FailureReason and log group are printed)
EXIT_TIMEOUT = 11  # an endpoint did not reach InService within --wait-delay x --wait-attempts
EXIT_LIVE_MISMATCH = 12  # the live EndpointConfigName is not the one the stack declared (silent rollback)
EXIT_SMOKE_FAILED = 13  # an endpoint answered, but a smoke-test check failed
EXIT_ROLLBACK_FAILED = 14  # after a failure, an endpoint could not be put back on its previous config

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_FAILED: "pulumi preview/up/refresh/destroy failed",
    EXIT_USAGE: "bad arguments or config, or confirmation refused (nothing touched)",
    EXIT_PULUMI: "Pulumi CLI missing or unusable, or the stack does not exist",
    EXIT_CANNOT_BUILD: "this machine cannot build the artifacts",
    EXIT_NOT_LOGGED_IN: "not logged in to a Pulumi backend",
    EXIT_NO_AWS_CREDENTIALS: "no AWS credentials",
    EXIT_WRONG_REGION: "the configured AWS region is not the stack's aws:region",
    EXIT_LOCKED: "the stack is locked by another update",
    EXIT_REFUSED: "the plan replaces or deletes an endpoint (pass --allow-replace)",
    EXIT_ENDPOINT_FAILED: "an endpoint ended Failed (rolled back)",
    EXIT_TIMEOUT: "an endpoint did not reach InService in time (rolled back)",
    EXIT_LIVE_MISMATCH: "an endpoint does not serve the config the stack declared (rolled back)",
    EXIT_SMOKE_FAILED: "an endpoint failed its smoke test (rolled back)",
    EXIT_ROLLBACK_FAILED: "the rollback failed: an endpoint is not back on its previous config",
}


class ReleaseFailure(Exception):
    """Stops the release: `code` is the exit code, the message says what failed and what to do."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
