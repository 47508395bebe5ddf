"""Pulumi program: the config is validated first, then artifacts are found or built, then the stack is declared.

A bad config or a failed build raises before any resource exists. A preview builds nothing: an artifact not
built yet shows as known after `up`, which builds it.
"""

from __future__ import annotations

import pulumi

from artifacts import resolve_artifacts
from program import build
from settings import load_settings

settings = load_settings()
artifacts = resolve_artifacts(settings, log=pulumi.log.info, build=not pulumi.runtime.is_dry_run())
for name, value in build(settings, artifacts).items():
    pulumi.export(name, value)
