"""The local sandbox (extra ``[testing]``): deploy stacks with the real CDK CLI and run the pipelines on
this machine with no AWS account."""
