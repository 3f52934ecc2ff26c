"""Classifies mail that reached the reply address: automatic responses (out-of-office, auto-replies) and
bounces are counted and dropped, human replies are forwarded to an address and/or a queue.

Entry points: ``lambda_handlers.reply_classifier.handler.handler`` (the SQS consumer) and
``lambda_handlers.reply_classifier.activation.handler`` (the custom resource that activates the receipt
rule set, opt-in).
"""
