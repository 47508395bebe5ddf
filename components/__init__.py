"""Pulumi ComponentResources of the stack, one concern per module (see docs/ARCHITECTURE.md).

Modules are imported by name (`from components.artifact_store import ArtifactStore`), never from here, so
settings.py can use components.artifact_source during validation without loading pulumi_aws.
"""
