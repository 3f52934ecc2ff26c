"""The local sandbox (extra ``[testing]``): deploy stacks with the real CDK CLI and run the pipelines on
this machine with no AWS account.

- :class:`Sandbox` - starts the sandbox server (moto's server plus a Lambda runner without Docker, SQS event
  source pollers, SNS delivery to every protocol and SES event publishing) on loopback, deploys stacks
  with the CDK CLI, and shows what happened: the outbox (e-mails, SMS, pushes, HTTP deliveries), faults,
  request counts; boto3 clients for everything else (tables, queues, DLQs).
- :mod:`~notification_constructs.testing.events` - builders for the events the pipelines consume.
- :class:`OrderPipelinesScenario` - the end-to-end scenario of the example pipelines (sandbox or account).
- :class:`IncidentAlertsScenario` - the example's incident pipeline: an alarm to ALARM, on-call paged, an
  acknowledgement, OK, the stakeholder report (``make demo`` runs it after the order scenario).
- :class:`ShipmentUpdatesScenario` - the example's shipment updates: SMS, e-mail and a partner webhook
  (:class:`PartnerWebhookReceiver`, served on loopback) per each customer's choice, once, in order, never
  to a suppressed address.
- :class:`DeliverabilityScenario` - the example's deliverability stack: the event archive in S3, SMTP
  credentials, a campaign respecting opt-outs and suppressions, inbound replies classified and forwarded
  (``make demo`` runs it last).
- pytest plugin: the ``notification_sandbox`` fixture (session scope).

Nothing here imports aws-cdk-lib, so the sandbox server starts without the jsii runtime.
"""

from .deliverability_scenario import DeliverabilityReport, DeliverabilityScenario
from .events import order_placed, publish_order, simulator_address
from .incident_scenario import IncidentAlertsScenario, IncidentScenarioReport, incident_event
from .sandbox import Sandbox, SandboxError
from .scenario import Check, OrderPipelinesScenario, ScenarioReport
from .shipment_scenario import (
    PartnerWebhookReceiver,
    ShipmentScenarioReport,
    ShipmentUpdatesScenario,
    shipment_updated,
)

__all__ = [
    "Check",
    "DeliverabilityReport",
    "DeliverabilityScenario",
    "IncidentAlertsScenario",
    "IncidentScenarioReport",
    "OrderPipelinesScenario",
    "PartnerWebhookReceiver",
    "Sandbox",
    "SandboxError",
    "ScenarioReport",
    "ShipmentScenarioReport",
    "ShipmentUpdatesScenario",
    "incident_event",
    "order_placed",
    "publish_order",
    "shipment_updated",
    "simulator_address",
]
