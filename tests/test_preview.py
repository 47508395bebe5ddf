"""A preview builds nothing: with an empty artifact cache, `pulumi preview` of dev and prod runs no build step,
declares every resource, and shows what depends on the artifact's bytes as known after `up`. An artifact that
is already built is used as it is."""

from __future__ import annotations

import pytest
from fake_artifacts import FakeBuilders, use_fake_builds
from pulumi_mocks import is_known, run_program, stack_config

STACKS = ["dev", "prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_a_preview_with_an_empty_cache_runs_no_build(stack, tmp_path, monkeypatch):
    builders = use_fake_builds(monkeypatch, tmp_path / "empty-cache", FakeBuilders())
    run = run_program(stack_config(stack), stack, preview=True)
    assert run.error is None, run.error
    assert builders.built == [], "a preview must not build"
    assert not list((tmp_path / "empty-cache").rglob("*.tar.gz"))
    for name in ("embeddings", "call-time"):
        obj = run.get(f"artifacts-{name}-artifact")
        assert not is_known(obj.inputs.get("key")), "the key is the sha256 of bytes not built yet: known after up"
        model = run.get(f"{name}-model")  # declared all the same: the preview shows the whole stack
        assert not is_known(model.inputs["primaryContainer"].get("modelDataUrl"))
        assert run.get(f"{name}-endpoint").typ == "aws:sagemaker/endpoint:Endpoint"


def test_the_same_preview_after_a_build_uses_the_built_artifact(tmp_path, monkeypatch):
    builders = use_fake_builds(monkeypatch, tmp_path / "cache", FakeBuilders())
    up = run_program(stack_config("dev"), "dev")  # `pulumi up` builds
    assert up.error is None and len(builders.built) == 2
    preview = run_program(stack_config("dev"), "dev", preview=True)
    assert preview.error is None and len(builders.built) == 2  # nothing built again
    for name in ("embeddings", "call-time"):
        assert preview.get(f"artifacts-{name}-artifact").inputs["key"] == up.get(f"artifacts-{name}-artifact").inputs[
            "key"]
