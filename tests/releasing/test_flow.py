"""The whole release against the fake SageMaker (moto + recorded front, real HTTP) and the fake Automation API:
what runs in which order, what is verified live, when it rolls back, and what it exits with."""

from __future__ import annotations

from release_helpers import release_argv, run_release

from releasing import failures


def live_configs(sagemaker) -> dict[str, str]:
    import boto3

    sm = boto3.client("sagemaker")
    return {n: sm.describe_endpoint(EndpointName=n)["EndpointConfigName"] for n in ("embeddings-dev", "call-time-dev")}


def stage_lines(lines: list[str]) -> list[str]:
    return [line[3:] for line in lines if line.startswith("== ")]


def test_happy_path_deploys_verifies_smoke_tests_and_summarises(work_dir, world, deployed, pulumi_cli):
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_OK, text
    assert stage_lines(lines) == ["validate", "artifacts", "pulumi", "preview", "record live state", "up", "verify",
                                  "smoke test", "summary"]
    assert all(any(line.startswith(f"-- {s}: ok (") for line in lines) for s in stage_lines(lines))
    assert [op for op, _ in world.calls] == ["select", "preview", "up"]
    assert live_configs(deployed) == {"embeddings-dev": "embeddings-dev-config-r2",
                                      "call-time-dev": "call-time-dev-config-r2"}
    assert "  embeddings-dev: InService on config embeddings-dev-config-r1" in lines  # recorded before up
    assert "  embeddings-dev: InService on config embeddings-dev-config-r2 (as declared)" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("endpoint "))
    assert lines[header].split() == ["endpoint", "status", "artifact", "sha256", "config", "cold", "ms", "warm", "ms"]
    row = lines[header + 2].split()
    assert row[:4] == ["embeddings-dev", "InService,", "smoke", "ok"] and row[5] == "embeddings-dev-config-r2"
    assert row[4] == "02ababababab..." and all(float(x) >= 0 for x in row[6:8])
    assert lines[-1] == "dev: released" and "UpdateEndpoint back" not in text

