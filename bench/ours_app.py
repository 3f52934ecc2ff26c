"""The synth benchmark's subject: the scope of ``bench/plain_app.py`` built with our constructs - a sender
identity, a configuration set, the bounce handling and order confirmation pipelines and their dashboard,
wired as ``examples/app.py`` wires them (no incident, shipment or deliverability parts). ``--nag``: with the
example's cdk-nag checks (AwsSolutions and Serverless, as ``Validations`` plugins).

    cdk synth --app ".venv/bin/python bench/ours_app.py [--nag]"
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from aws_cdk import App, Stack
from constructs import Construct

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    OrderConfirmationPipeline,
    PipelinesDashboard,
    SenderIdentity,
)

DOMAIN = "example.com"


class OurPipelines(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        configuration_set = EmailConfigurationSet(self, "ConfigurationSet")
        sender = SenderIdentity(self, "Sender", domain=DOMAIN, configuration_set=configuration_set)
        bounces = BounceHandlingPipeline(self, "BounceHandling", configuration_set=configuration_set)
        orders = OrderConfirmationPipeline(
            self,
            "OrderConfirmation",
            sender=sender,
            configuration_set=configuration_set,
            from_address=f"orders@{DOMAIN}",
            suppression_table=bounces.suppression_table,
            alarm_topic=bounces.alert_topic,
        )
        PipelinesDashboard(self, "Dashboard", order_pipeline=orders, bounce_pipeline=bounces)


def build_app(*, nag: bool = False, outdir: str | None = None) -> App:
    app = App(outdir=outdir)
    OurPipelines(app, "OurPipelines")
    if nag:
        from aws_cdk import Validations
        from cdk_nag import AwsSolutionsChecks, ServerlessChecks

        Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app(nag="--nag" in sys.argv[1:]).synth()
