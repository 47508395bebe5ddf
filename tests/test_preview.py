"""A preview builds nothing: with an empty artifact cache, `pulumi preview` of dev and prod runs no build step,
declares every resource, and shows what depends on the artifact's bytes as known after `up`. An artifact that
is already built is used as it is."""

from __future__ import annotations

from fake_artifacts import FakeBuilders, use_fake_builds
from pulumi_mocks import ORGANIZATION, AwsMocks, is_known, run_program, stack_config


def test_a_preview_with_an_empty_cache_runs_no_build(tmp_path, monkeypatch):
    builders = use_fake_builds(monkeypatch, tmp_path / "empty-cache", FakeBuilders())
    run = run_program(stack_config("dev"), "dev", preview=True)
    assert run.error is None, run.error
    assert builders.built == [], "a preview must not build"
    assert not list((tmp_path / "empty-cache").rglob("*.tar.gz"))
    for name in ("embeddings", "call-time"):
        obj = run.get(f"artifacts-{name}-artifact")
        assert not is_known(obj.inputs.get("key")), "the key is the sha256 of bytes not built yet: known after up"
        model = run.get(f"{name}-model")  # declared all the same: the preview shows the whole stack
        assert not is_known(model.inputs["primaryContainer"].get("modelDataUrl"))
        assert run.get(f"{name}-endpoint").typ == "aws:sagemaker/endpoint:Endpoint"


def test_a_preview_of_a_promoting_stack_on_a_fresh_machine_runs_no_build(tmp_path, monkeypatch):
    use_fake_builds(monkeypatch, tmp_path / "ci-runner-cache", FakeBuilders())
    dev = run_program(stack_config("dev"), "dev")  # released elsewhere (its own cache)
    assert dev.error is None, dev.error
    builders = use_fake_builds(monkeypatch, tmp_path / "empty-cache", FakeBuilders())
    mocks = AwsMocks(stacks={f"{ORGANIZATION}/sls-endpoints/dev": dev.outputs}, objects=dev.mocks.objects)
    prod = run_program(stack_config("prod"), "prod", preview=True, mocks=mocks)
    assert prod.error is None, prod.error
    assert builders.built == [] and not list((tmp_path / "empty-cache").rglob("*.tar.gz"))
    for name in ("embeddings", "call-time"):  # the copy's key is known now: dev's sha256
        assert prod.get(f"artifacts-{name}-artifact-copy").inputs["key"] == dev.get(
            f"artifacts-{name}-artifact").inputs["key"]


def test_the_same_preview_after_a_build_uses_the_built_artifact(tmp_path, monkeypatch):
    builders = use_fake_builds(monkeypatch, tmp_path / "cache", FakeBuilders())
    up = run_program(stack_config("dev"), "dev")  # `pulumi up` builds
    assert up.error is None and len(builders.built) == 2
    preview = run_program(stack_config("dev"), "dev", preview=True)
    assert preview.error is None and len(builders.built) == 2  # nothing built again
    for name in ("embeddings", "call-time"):
        assert preview.get(f"artifacts-{name}-artifact").inputs["key"] == up.get(f"artifacts-{name}-artifact").inputs[
            "key"]
