"""Sends the order confirmation e-mail for ``order.placed`` events through SES, exactly once per order.

Entry point: ``lambda_handlers.order_email_sender.handler.handler``.
"""
