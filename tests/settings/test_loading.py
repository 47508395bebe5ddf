"""settings.loading: the raw config from the running stack (Pulumi's config API) and from a stack file."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml
from pulumi_mocks import AwsMocks, stack_config

import settings
from settings import ConfigError, read_stack_file

P = "sls-endpoints:endpoints"


def test_load_settings_reads_the_stack_config_and_sees_typos():
    cfg = stack_config("prod")
    pulumi.runtime.set_mocks(AwsMocks(), project="sls-endpoints", stack="prod")
    pulumi.runtime.set_all_config(cfg)
    s = settings.load_settings()
    assert (s.stack, s.region, s.kms, s.protect) == ("prod", "us-east-1", True, True)
    assert [e.name for e in s.endpoints] == [e["name"] for e in json.loads(cfg[P])]
    pulumi.runtime.set_all_config({**cfg, "sls-endpoints:protected": "true"})
    with pytest.raises(ConfigError, match="sls-endpoints:protected"):
        settings.load_settings()


def test_stack_file_gives_the_projects_keys_and_the_region(tmp_path):
    (tmp_path / "Pulumi.qa.yaml").write_text(
        yaml.safe_dump({"config": {"aws:region": "eu-west-1", "sls-endpoints:kms": True, "other:key": 1}})
    )
    assert read_stack_file(tmp_path, "qa") == ({"kms": True}, "eu-west-1")


def test_missing_stack_file_names_the_stacks_that_exist(tmp_path):
    for stack in ("dev", "prod"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    with pytest.raises(ConfigError, match=r"Pulumi.qa.yaml does not exist; allowed stacks: dev, prod"):
        read_stack_file(tmp_path, "qa")
