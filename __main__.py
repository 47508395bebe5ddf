"""Pulumi program: the config is validated first, then artifacts are found or built, then the stack is declared.

A bad config or a failed build raises before any resource exists.
"""

from __future__ import annotations

import pulumi

from artifacts import resolve_artifacts
from program import build
from settings import load_settings

settings = load_settings()
artifacts = resolve_artifacts(settings, log=pulumi.log.info)  # a build takes minutes: say so
for name, value in build(settings, artifacts).items():
    pulumi.export(name, value)
