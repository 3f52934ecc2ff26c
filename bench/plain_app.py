"""The floor of the synth benchmark: the order confirmation and bounce handling pipelines written with
aws-cdk-lib alone - the same resource types in the same counts as the example's identity, configuration
set, order and bounce pipelines and dashboard as ``bench/ours_app.py`` builds them with our constructs (one
KMS key per pipeline encrypting its topics, queues with DLQs and SSL-only policies, tables and log groups;
functions with roles, event source mappings, alarms; ``tests/unit/test_bench_synth_apps.py`` keeps the
counts equal) - not a copy of their properties or validation. ``--empty``: an app with one empty stack
that imports only aws-cdk-lib's core (the reference for the CLI's, jsii's and Python's own cost).

    cdk synth --app ".venv/bin/python bench/plain_app.py [--empty]"
"""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App, Duration, RemovalPolicy, Stack

if __name__ == "__main__" and "--empty" in sys.argv[1:]:
    # Before the service modules: importing them (aws_lambda alone takes seconds) is part of what both
    # apps cost, not of the CLI, jsii and aws-cdk-lib's core the empty app stands for.
    _empty = App()
    Stack(_empty, "Empty")
    _empty.synth()
    sys.exit(0)

# The service modules, after the empty app has exited.
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent


class PlainPipelines(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.code = lambda_.Code.from_asset(
            str(ROOT), exclude=["*", "!lambda_handlers", "!lambda_handlers/**"]
        )
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard")
        identity = ses.EmailIdentity(self, "Identity", identity=ses.Identity.domain("example.com"))
        config_set = ses.ConfigurationSet(self, "ConfigurationSet")
        template = ses.CfnTemplate.TemplateProperty(
            subject_part="Order {{order_id}}", text_part="{{order_id}}"
        )
        ses.CfnTemplate(self, "Template", template=template)
        # bounce handling: SES events topic -> queue -> processor -> suppression / soft-bounce tables; alerts
        self.key = self.data_key("BounceKey")
        ses_events = self.topic("SesEvents")
        config_set.add_event_destination(
            "Events",
            destination=ses.EventDestination.sns_topic(ses_events),
            events=[ses.EmailSendingEvent.BOUNCE],
        )
        alerts = self.topic("SupportAlerts")
        suppression, soft_bounces = self.table("Suppression", "address"), self.table("SoftBounces", "address")
        bounce = self.consumer("Bounce", ses_events, "lambda_handlers.bounce_processor.handler.handler")
        suppression.grant_read_write_data(bounce)
        soft_bounces.grant_read_write_data(bounce)
        alerts.grant_publish(bounce)
        for name in ("BounceRateWarning", "BounceRate", "ComplaintRateWarning", "ComplaintRate"):
            metric = cloudwatch.Metric(
                namespace="AWS/SES", metric_name="Reputation." + name.removesuffix("Warning")
            )
            self.alarm(name, metric)
        # order confirmation: order events topic -> writer queue -> orders table; -> e-mail queue -> SES
        self.key = self.data_key("OrderKey")
        orders = self.topic("OrderEvents")
        writer = self.consumer("Writer", orders, "lambda_handlers.order_writer.handler.handler")
        self.table("Orders", "order_id").grant_write_data(writer)
        sender = self.consumer("Sender", orders, "lambda_handlers.order_email_sender.handler.handler")
        self.table("Idempotency", "id").grant_read_write_data(sender)
        suppression.grant_read_data(sender)
        identity.grant_send_email(sender)

    def data_key(self, id: str) -> kms.Key:
        """One customer managed key per pipeline, as our pipelines have (``DataKey``)."""
        key = kms.Key(self, id, enable_key_rotation=True)
        # CloudWatch Logs encrypts the log groups with it: the key policy must allow the service
        # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
        key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com"))
        return key

    def topic(self, id: str) -> sns.Topic:
        return sns.Topic(self, id, master_key=self.key, enforce_ssl=True)

    def table(self, id: str, key: str) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            id,
            partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def alarm(self, id: str, metric: cloudwatch.Metric) -> None:
        alarm = metric.create_alarm(self, id + "Alarm", threshold=1, evaluation_periods=1)
        self.dashboard.add_widgets(cloudwatch.AlarmWidget(alarm=alarm))

    def consumer(self, id: str, topic: sns.Topic, handler: str) -> lambda_.Function:
        dlq = sqs.Queue(self, id + "Dlq", encryption_master_key=self.key, enforce_ssl=True)
        queue = sqs.Queue(
            self,
            id + "Queue",
            encryption_master_key=self.key,
            enforce_ssl=True,
            visibility_timeout=Duration.minutes(3),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
        )
        topic.add_subscription(subscriptions.SqsSubscription(queue, raw_message_delivery=True))
        function = lambda_.Function(
            self,
            id + "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler=handler,
            code=self.code,
            memory_size=256,
            timeout=Duration.seconds(30),
            log_group=logs.LogGroup(
                self, id + "Logs", retention=logs.RetentionDays.ONE_MONTH, encryption_key=self.key
            ),
            environment={"POWERTOOLS_SERVICE_NAME": id},
        )
        function.add_event_source(
            sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True)
        )
        self.alarm(id + "DlqDepth", dlq.metric_approximate_number_of_messages_visible())
        self.alarm(id + "OldestMessageAge", queue.metric_approximate_age_of_oldest_message())
        self.alarm(id + "Errors", function.metric_errors())
        self.alarm(id + "Throttles", function.metric_throttles())
        return function


def main() -> None:
    app = App()
    PlainPipelines(app, "PlainPipelines")
    app.synth()


if __name__ == "__main__":
    main()
