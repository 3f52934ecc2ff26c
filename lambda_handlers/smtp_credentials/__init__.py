"""SMTP credentials for SES: an IAM access key turned into an SMTP password, kept in Secrets Manager."""
