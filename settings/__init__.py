"""The stack config: read once, checked by pure rules, typed, before any artifact is built or resource declared.

types (the frozen Settings), reader (typed reads that name the full key), rules (validate: raw config ->
Settings), loading (from the running stack or a stack file).
"""

from settings.loading import load_settings, raw_config, read_stack_file
from settings.rules import PROJECT, validate
from settings.types import (
    AlarmSettings,
    ArtifactSource,
    ConfigError,
    DeploymentSettings,
    EndpointSettings,
    ImageSettings,
    InstanceSettings,
    MonitoringSettings,
    ScalingSettings,
    ServerlessSettings,
    Settings,
)

__all__ = [
    "PROJECT",
    "AlarmSettings",
    "ArtifactSource",
    "ConfigError",
    "DeploymentSettings",
    "EndpointSettings",
    "ImageSettings",
    "InstanceSettings",
    "MonitoringSettings",
    "ScalingSettings",
    "ServerlessSettings",
    "Settings",
    "load_settings",
    "raw_config",
    "read_stack_file",
    "validate",
]
