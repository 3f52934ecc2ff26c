"""Processes SES notifications (bounces, complaints, ...): suppresses addresses, counts soft bounces and
sends one alert summary per batch.

Entry point: ``lambda_handlers.bounce_processor.handler.handler``.
"""
