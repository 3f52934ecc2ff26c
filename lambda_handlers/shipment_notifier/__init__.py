"""Delivers ``shipment.updated`` events on the channels each customer chose (SMS, SES e-mail, partner
webhooks), each (order, status, channel) once, never an update that arrives after a later status.

Entry point: ``lambda_handlers.shipment_notifier.handler.handler``.
"""
