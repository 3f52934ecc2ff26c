"""Code shared by all handlers: configuration helpers, error types, SQS envelope unwrapping,
address validation and masking, dead-letter forwarding and the per-record error policy.

Import the sub-modules directly; this package module deliberately imports nothing (no boto3).
"""
