"""Model -> EndpointConfiguration -> Endpoint for one endpoint of the stack (serverless or instance-based).

SageMaker Models and EndpointConfigurations are immutable: every argument change replaces them. They are left
to Pulumi's auto-naming, so a change creates the new model and config first, then UpdateEndpoint switches the
endpoint in place (no downtime, no "already existing" name clash), then the old ones are deleted. Only the
Endpoint carries a stable name (config `endpoint_name`), which clients and the log group use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from settings import EndpointSettings

MODEL_DIR_CODE = "/opt/ml/model/code"  # where SageMaker unpacks the artifact's code/ directory

# Per framework, what the container needs to find and size our handler (AWS_FACTS.md, toolkit sources):
# - scikit-learn image: the entry script is named by SAGEMAKER_PROGRAM inside SAGEMAKER_SUBMIT_DIRECTORY.
# - HF image: code/inference.py is found by convention. One model-server worker, because the memory tier was
#   sized for one handler's peak RSS (inference/sizing.py). SAGEMAKER_MODEL_SERVER_WORKERS becomes MMS's
#   default_workers_per_model (sagemaker-inference-toolkit model_server._generate_mms_config_properties);
#   MMS_DEFAULT_WORKERS_PER_MODEL is the same setting read by MMS itself, for the HF toolkit's own MMS start.
#   SAGEMAKER_MODEL_SERVER_TIMEOUT is left at the toolkit default (60 s), which equals serverless's invocation limit.
BASE_ENVIRONMENT: dict[str, dict[str, str]] = {
    "huggingface": {
        "MMS_DEFAULT_WORKERS_PER_MODEL": "1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    },
    "sklearn": {
        "SAGEMAKER_SUBMIT_DIRECTORY": MODEL_DIR_CODE,
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    },
}


def container_environment(endpoint: EndpointSettings) -> dict[str, str]:
    """The Model's environment: framework defaults, what the artifact's manifest asks for, then config on top."""
    env = dict(BASE_ENVIRONMENT[endpoint.framework])
    env.update(endpoint.artifact.environment)
    if endpoint.framework == "sklearn":
        env.setdefault("SAGEMAKER_PROGRAM", endpoint.artifact.program)
    env.update(endpoint.environment)
    return env


@dataclass
class InferenceEndpointArgs:
    endpoint: EndpointSettings
    role_arn: pulumi.Input[str]
    role_policy: pulumi.Resource  # the Model waits for the role's permissions
    image_uri: pulumi.Input[str]
    model_data_url: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None
    protect: bool = False


class InferenceEndpoint(pulumi.ComponentResource):
    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    model_name: pulumi.Output[str]
    config_name: pulumi.Output[str]
    variant_name: str

    def __init__(self, name: str, args: InferenceEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sls:index:InferenceEndpoint", name, None, opts)
        ep = args.endpoint
        sm = aws.sagemaker
        # No sleep for IAM propagation: the provider retries CreateModel while the new role propagates.
        model = sm.Model(
            f"{name}-model",
            execution_role_arn=args.role_arn,
            primary_container=sm.ModelPrimaryContainerArgs(
                image=args.image_uri,
                model_data_url=args.model_data_url,
                environment=container_environment(ep),
                mode="SingleModel",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.role_policy]),
        )
        variant = sm.EndpointConfigurationProductionVariantArgs(
            model_name=model.name,
            variant_name=ep.variant_name,
            **_capacity(ep),
        )
        config = sm.EndpointConfiguration(
            f"{name}-config",
            production_variants=[variant],
            kms_key_arn=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        endpoint = sm.Endpoint(
            f"{name}-endpoint",
            name=ep.endpoint_name,
            endpoint_config_name=config.name,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.model_name = model.name
        self.config_name = config.name
        self.variant_name = ep.variant_name
        self.register_outputs(
            {"endpoint_name": self.endpoint_name, "endpoint_arn": self.endpoint_arn, "model_name": self.model_name}
        )


def _capacity(ep: EndpointSettings) -> Mapping[str, object]:
    if ep.serverless is not None:
        s = ep.serverless
        return {
            "serverless_config": aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                memory_size_in_mb=s.memory_mb,
                max_concurrency=s.max_concurrency,
                provisioned_concurrency=s.provisioned_concurrency,
            )
        }
    assert ep.instance is not None
    return {
        "instance_type": ep.instance.instance_type,
        "initial_instance_count": ep.instance.count,
        "initial_variant_weight": 1.0,
    }
