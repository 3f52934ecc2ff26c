"""Records the lifecycle of incidents (CloudWatch alarms and ``incident.event`` messages) in DynamoDB, pages
on-call by severity, escalates unacknowledged incidents and mails a report when one is resolved.

Entry point: ``lambda_handlers.incident_tracker.handler.handler``.
"""
