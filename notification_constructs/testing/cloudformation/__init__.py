"""CloudFormation in the sandbox: a deployment engine over moto's models, plus models moto lacks.

``install(state)`` (idempotent) makes moto's CloudFormation backend use :mod:`._engine`, registers the
models of :mod:`._models` and seeds the public SSM parameters CDK apps resolve at deploy time.
"""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notification_constructs.testing._state import SandboxState

__all__ = ["POWERTOOLS_LAYER_ACCOUNT", "POWERTOOLS_LAYER_PARAMETERS", "install", "powertools_layer_arn"]

#: The account AWS publishes the Powertools for AWS Lambda (Python) layers from.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
#: Public SSM parameters naming a Powertools layer, and the layer version each answers
#: (https://docs.powertools.aws.dev/lambda/python/latest/#lambda-layer - "SSM Parameter Store").
#: The sandbox's function runner uses the locally installed Powertools for these layers.
POWERTOOLS_LAYER_PARAMETERS = {
    "/aws/service/powertools/python/arm64/python3.14/3.37.0": (
        "AWSLambdaPowertoolsPythonV3-python314-arm64",
        27,
    ),
}

_installed = False


def powertools_layer_arn(region: str, layer_name: str, version: int) -> str:
    return f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{layer_name}:{version}"


def install(state: SandboxState) -> None:
    """Patch moto's CloudFormation (once) and seed the public parameters in ``state``'s region."""
    global _installed
    from moto.cloudformation import parsing

    from . import _models  # defines the models (CloudFormationModel subclasses)
    from ._engine import install_engine

    if not _installed:
        install_engine()
        _bucket_policies_see_tls()
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()
        _installed = True
    _seed_public_parameters(state.account_id, state.region)
    state.log("cloudformation", "CloudFormation engine installed", models=len(_models.MODELS))


def _seed_public_parameters(account_id: str, region: str) -> None:
    """Put the public ``/aws/service/...`` parameters in moto's SSM (PutParameter refuses ``/aws`` names)."""
    from moto.ssm.models import Parameter, ssm_backends

    parameters = ssm_backends[account_id][region]._parameters
    for name, (layer_name, version) in POWERTOOLS_LAYER_PARAMETERS.items():
        if parameters.get(name):
            continue
        parameters[name].append(
            Parameter(  # type: ignore[abstract]
                account_id=account_id,
                name=name,
                value=powertools_layer_arn(region, layer_name, version),
                parameter_type="String",
                description="Powertools for AWS Lambda (Python) layer (sandbox: the local installation)",
                allowed_pattern=None,
                keyid=None,
                last_modified_date=datetime.datetime.now(datetime.UTC),
                version=1,
                data_type="text",
            )
        )


def _bucket_policies_see_tls() -> None:
    """Evaluate S3 bucket policies as for requests over TLS.

    The CDK bootstrap bucket (and every ``enforce_ssl`` bucket) denies ``aws:SecureTransport: false``.
    moto ignores policy conditions, so that statement denies every request; the sandbox is plain HTTP
    on loopback standing in for AWS's HTTPS endpoints, so such statements are left out when moto
    evaluates the policy (GetBucketPolicy still returns the policy as written). Policies without them
    are evaluated as before.
    """
    from moto.s3.models import FakeBucket

    original = FakeBucket.get_permission

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return original(self, action, resource)
        try:
            document = json.loads(self.policy)
        except ValueError:
            return original(self, action, resource)
        statements = document.get("Statement") or []
        statements = statements if isinstance(statements, list) else [statements]
        kept = [s for s in statements if not _denies_plain_http(s)]
        if len(kept) == len(statements):
            return original(self, action, resource)
        stored, self.policy = self.policy, json.dumps({**document, "Statement": kept}).encode()
        try:
            return original(self, action, resource)
        finally:
            self.policy = stored

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def _denies_plain_http(statement: Any) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition") or {}
    return list(condition) == ["Bool"] and {
        k.lower(): str(v).lower() for k, v in condition["Bool"].items()
    } == {"aws:securetransport": "false"}
