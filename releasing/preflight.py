"""Checks before a release touches anything: the Pulumi CLI is installed, AWS credentials exist, and the
region they point at is the stack's.

Why: the Automation API drives the `pulumi` binary, so without it every later error is confusing; a deploy
with no credentials fails minutes in, after the build; and credentials for another region would describe,
verify and roll back endpoints that are not the stack's (the provider itself uses the stack's aws:region).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from .failures import EXIT_NO_AWS_CREDENTIALS, EXIT_PULUMI, EXIT_WRONG_REGION, ReleaseFailure

INSTALL_PULUMI = ("install it with `curl -fsSL https://get.pulumi.com | sh` (or `brew install pulumi/tap/pulumi`), "
                  "make sure `pulumi` is on PATH, then `pulumi login` (README.md, Deploying)")


def require_pulumi_cli() -> str:
    """The path of the `pulumi` executable, or ReleaseFailure(EXIT_PULUMI) saying how to install it."""
    path = shutil.which("pulumi")
    if path is None:
        raise ReleaseFailure(EXIT_PULUMI, f"the Pulumi CLI is not installed (no `pulumi` on PATH): {INSTALL_PULUMI}")
    return path


def aws_session(stack_region: str) -> Any:
    """A boto3 session for the stack's region, once credentials exist and no other region is configured."""
    import boto3

    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise ReleaseFailure(
            EXIT_NO_AWS_CREDENTIALS,
            "no AWS credentials found (environment, ~/.aws/credentials, SSO, container or instance role); "
            "set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        )
    # AWS_REGION is what the AWS CLI v2 and the Pulumi AWS provider read; botocore reads AWS_DEFAULT_REGION
    configured = os.environ.get("AWS_REGION") or session.region_name
    if configured and configured != stack_region:
        raise ReleaseFailure(
            EXIT_WRONG_REGION,
            f"the AWS region configured here is {configured} (AWS_REGION, AWS_DEFAULT_REGION or the profile's "
            f"region), but the stack's aws:region is {stack_region}; set AWS_REGION={stack_region} (or unset it) "
            "so the release checks the endpoints the stack deploys",
        )
    return boto3.session.Session(region_name=stack_region)
