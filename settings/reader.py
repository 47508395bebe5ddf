"""Typed reads of one config object, with errors that name the full key, and a check for keys nobody read.

Why: an error must point at the line of Pulumi.<stack>.yaml to fix (`sls-endpoints:endpoints[0].serverless.
memory_mb`), and a misspelt optional key must fail instead of silently meaning "default".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from settings.types import ConfigError

REQUIRED: Any = object()  # the default of a read that has no default


class ConfigObject:
    """One config object (a mapping) under `key`; each read records the name, so leftovers are typos."""

    def __init__(self, value: Any, key: str, sep: str = "."):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected an object (key: value pairs), got {value!r}")
        self.value: Mapping[str, Any] = value
        self.key = key
        self.sep = sep
        self.read: set[str] = set()

    def key_of(self, name: str) -> str:
        """The full key of a member, as errors name it."""
        return f"{self.key}{self.sep}{name}"

    def has(self, name: str) -> bool:
        """Whether the member is present (even as null); marks it read."""
        self.read.add(name)
        return name in self.value

    def value_of(self, name: str, default: Any = REQUIRED) -> Any:
        """The member's raw value; null counts as absent."""
        self.read.add(name)
        if self.value.get(name) is not None:
            return self.value[name]
        if default is REQUIRED:
            raise ConfigError(f"{self.key_of(name)} is required and missing")
        return default

    def text(self, name: str, default: Any = REQUIRED, pattern: re.Pattern | None = None, allowed: str = "") -> Any:
        """A non-empty string, matching `pattern` if given (`allowed` describes it in the error)."""
        if self.value.get(name) is None and default is not REQUIRED:
            self.read.add(name)
            return default
        v = self.value_of(name)
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{self.key_of(name)}: expected a non-empty string, got {v!r}")
        if pattern and not pattern.match(v):
            raise ConfigError(f"{self.key_of(name)}: {v!r} is not allowed; allowed: {allowed or pattern.pattern}")
        return v

    def whole_number(self, name: str, default: Any = REQUIRED, lo: int | None = None, hi: int | None = None) -> Any:
        """An integer (not a bool) within lo..hi."""
        if self.value.get(name) is None and default is not REQUIRED:
            self.read.add(name)
            return default
        v = self.value_of(name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{self.key_of(name)}: expected a whole number, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(f"{self.key_of(name)}: {v} is out of range; allowed: {_range(lo, hi)}")
        return v

    def number(
        self, name: str, default: Any = REQUIRED, lo: float = 0.0, hi: float | None = None, lo_open: bool = True
    ) -> Any:
        """A number above lo (or at least lo when lo_open is False) and at most hi, as a float."""
        if self.value.get(name) is None and default is not REQUIRED:
            self.read.add(name)
            return default
        v = self.value_of(name)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"{self.key_of(name)}: expected a number, got {v!r}")
        if (v <= lo if lo_open else v < lo) or (hi is not None and v > hi):
            low = f"> {lo}" if lo_open else f">= {lo}"
            high = f" and <= {hi}" if hi is not None else ""
            raise ConfigError(f"{self.key_of(name)}: {v} is out of range; allowed: {low}{high}")
        return float(v)

    def flag(self, name: str, default: bool) -> bool:
        v = self.value_of(name, default)
        if not isinstance(v, bool):
            raise ConfigError(f"{self.key_of(name)}: expected true or false, got {v!r}")
        return v

    def child(self, name: str, required: bool = False) -> ConfigObject | None:
        """A nested object, or None when it is absent and not required."""
        v = self.value_of(name, REQUIRED if required else None)
        return None if v is None else ConfigObject(v, self.key_of(name))

    def reject_unknown_keys(self, allowed: list[str] | tuple[str, ...]) -> None:
        """Refuse keys nobody read: almost always a typo, which would otherwise silently mean 'default'."""
        unknown = sorted(set(self.value) - self.read)
        if unknown:
            raise ConfigError(
                f"{self.key_of(unknown[0])}: unknown key {unknown[0]!r} (a typo?); "
                f"allowed keys: {', '.join(sorted(allowed))}"
            )


def _range(lo: int | None, hi: int | None) -> str:
    return f"{lo}-{hi}" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else f"<= {hi}")
