"""Where the raw config comes from: the running Pulumi stack (load_settings), or a stack file (release.py).

Both hand validate() every `<project>:*` key, typos included, so a misspelt key fails the same way in
`pulumi up` and in `python release.py` before anything is built or deployed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from settings.rules import PROJECT, validate
from settings.types import ConfigError, Settings


def raw_config(project: str = PROJECT) -> dict[str, Any]:
    """Every `<project>:*` key of the running stack (objects parsed), typos included so validate() sees them."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    cfg = pulumi.Config(project)
    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    raw: dict[str, Any] = {}
    for full in sorted(names):
        if not full.startswith(project + ":"):
            continue
        key = full.split(":", 1)[1]
        text = cfg.get(key)
        try:
            raw[key] = cfg.get_object(key) if text is not None and text[:1] in "[{" else _scalar(text)
        except (json.JSONDecodeError, pulumi.ConfigTypeError) as e:
            raise ConfigError(f"{full}: not valid JSON/YAML structure: {e}") from e
    raw["endpoints"] = cfg.require_object("endpoints")  # the one required key: Pulumi's own error if absent
    return raw


def _scalar(text: str | None) -> Any:
    """Pulumi hands every scalar over as a string; booleans are the only other scalar type the config uses."""
    if text in ("true", "false"):
        return text == "true"
    return text


def read_stack_file(work_dir: Path, stack: str, project: str = PROJECT) -> tuple[dict[str, Any], str]:
    """(`<project>:*` keys without the prefix, aws:region) from Pulumi.<stack>.yaml, for checks before any CLI run."""
    import yaml

    path = Path(work_dir) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"stack file {path} does not exist; allowed stacks: "
            + ", ".join(sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in Path(work_dir).glob("Pulumi.*.yaml")))
        )
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(project + ":")}
    return raw, str(config.get("aws:region") or "")


def load_settings() -> Settings:
    """Read and validate the running stack's config; raises ConfigError before any resource exists."""
    import pulumi

    region = pulumi.Config("aws").get("region") or ""
    return validate(raw_config(), stack=pulumi.get_stack(), region=region, project=pulumi.get_project())
