"""Persists ``order.placed`` events in the orders table (idempotent conditional writes).

Entry point: ``lambda_handlers.order_writer.handler.handler``.
"""
