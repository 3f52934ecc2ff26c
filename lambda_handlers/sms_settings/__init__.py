"""SMS account settings: a CloudFormation custom resource calling SNS ``SetSMSAttributes``."""
