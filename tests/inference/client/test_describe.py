"""What the client reads from SageMaker's control plane (a moto server): MaxConcurrency for its default
concurrency, the model name for its cache identity, and graceful defaults when describe is not allowed."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from endpoint_fixtures import MOTO_KEYS as KEYS
from endpoint_fixtures import moto_sagemaker

from inference.client import DEFAULT_CONCURRENCY, EmbeddingCache, EmbeddingClient, describe_endpoint
from inference.client.transport import default_concurrency


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    serverless = {"MemorySizeInMB": 1024, "MaxConcurrency": 5}
    with moto_sagemaker({
        "fake": {"ServerlessConfig": serverless},
        "scorer-dev": {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1}},
        "instance-ep": {"InstanceType": "ml.m5.large", "InitialInstanceCount": 1},
    }) as url:
        yield url


def sagemaker(url: str):
    return boto3.client("sagemaker", endpoint_url=url, **KEYS)


def test_describe_reads_status_serverless_config_and_model(moto_url: str) -> None:
    info = describe_endpoint(sagemaker(moto_url), "fake")
    assert info.ok
    assert (info.status, info.config_name, info.model_name) == ("InService", "fake-config", "fake-model-1a2b3c")
    assert (info.max_concurrency, info.memory_mb) == (5, 1024)
    assert default_concurrency(info) == 4  # one below MaxConcurrency, leaving a slot to other callers
    assert default_concurrency(describe_endpoint(sagemaker(moto_url), "scorer-dev")) == 1
    instance = describe_endpoint(sagemaker(moto_url), "instance-ep")
    assert instance.instance_type == "ml.m5.large" and instance.max_concurrency is None
    assert default_concurrency(instance) == DEFAULT_CONCURRENCY


def test_a_missing_endpoint_is_an_error_in_the_info_not_an_exception(moto_url: str) -> None:
    info = describe_endpoint(sagemaker(moto_url), "nope")
    assert not info.ok and "sagemaker:DescribeEndpoint failed" in info.error
    assert default_concurrency(info) == DEFAULT_CONCURRENCY


def test_access_denied_names_the_permission_and_the_client_falls_back_to_defaults(endpoint) -> None:
    url, handler, _ = endpoint
    sm = boto3.client("sagemaker", **KEYS)
    with Stubber(sm) as stub:  # no request leaves the process
        stub.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized", 400)
        stub.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized", 400)
        client = EmbeddingClient("fake", endpoint_url=url, sagemaker_client=sm)
        with pytest.raises(ValueError, match="AccessDenied"):  # a cache needs an identity it could not read
            EmbeddingClient("fake", endpoint_url=url, sagemaker_client=sm, cache=EmbeddingCache())
    assert "needs sagemaker:DescribeEndpoint" in client.transport.info.error
    assert client.transport.concurrency == DEFAULT_CONCURRENCY
    assert client.embed("still works") == pytest.approx(handler.module.vector("still works"), abs=1e-6)


def test_the_client_sizes_itself_and_keys_its_cache_from_describe(moto_url: str, endpoint) -> None:
    url, handler, _ = endpoint
    client = EmbeddingClient("fake", endpoint_url=url, sagemaker_endpoint_url=moto_url, cache=EmbeddingCache())
    assert client.transport.concurrency == 4
    assert client.model_identity == "fake-model-1a2b3c"
    client.embed_many(["one", "two"])
    client.embed_many(["two", "one"])
    assert handler.model["seen"] == ["one", "two"]
    assert client.transport.describe()["describe"]["max_concurrency"] == 5


def test_against_the_local_endpoint_describe_is_skipped_unless_asked(endpoint) -> None:
    url, _, _app = endpoint
    client = EmbeddingClient("fake", endpoint_url=url)
    assert client.transport.info is None and client.transport.concurrency == DEFAULT_CONCURRENCY
    assert EmbeddingClient("fake", endpoint_url=url, concurrency=7).transport.concurrency == 7
