"""Pulumi program: validated settings first (nothing is declared if config is bad), then the stack."""

from __future__ import annotations

import pulumi

from components.program import build
from settings import load_settings

settings = load_settings()
for name, value in build(settings).items():
    pulumi.export(name, value)
