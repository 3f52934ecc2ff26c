"""Sends a campaign (an SES template) to the subscribers of a contact-list topic, page by page, at most once
per campaign and address, within the configured send rate.

Entry point: ``lambda_handlers.bulk_email_sender.handler.handler``.
"""
