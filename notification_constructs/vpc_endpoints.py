"""NotificationVpcEndpoints: the VPC endpoints the pipelines' functions need in a VPC without a NAT."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from ._validation import Problems, acknowledge, is_token

__all__ = ["DEFAULT_VPC_ENDPOINT_SERVICES", "NotificationVpcEndpoints"]

_HTTPS = 443

#: Interface endpoints by the name ``services`` takes (the AWS service's endpoint prefix) and their child id.
#: ``email`` is the SES API (SESv2 ``SendEmail``, ``com.amazonaws.<region>.email``), not
#: ``InterfaceVpcEndpointAwsService.SES``, which is the SMTP interface (``email-smtp``).
_INTERFACE_SERVICES: Mapping[str, tuple[str, ec2.InterfaceVpcEndpointAwsService]] = {
    "sqs": ("SqsEndpoint", ec2.InterfaceVpcEndpointAwsService.SQS),
    "sns": ("SnsEndpoint", ec2.InterfaceVpcEndpointAwsService.SNS),
    "email": ("EmailEndpoint", ec2.InterfaceVpcEndpointAwsService.EMAIL),
    "kms": ("KmsEndpoint", ec2.InterfaceVpcEndpointAwsService.KMS),
    "logs": ("LogsEndpoint", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
    "monitoring": ("MonitoringEndpoint", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING),
}
_GATEWAY_SERVICE = "dynamodb"
#: cdk-nag rules that read an ingress CIDR; a token CIDR is reported by them as unrestricted.
_OPEN_INGRESS_RULES = (
    "AwsSolutions-EC23",
    *(
        f"{pack}-{rule}"
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
        for rule in ("EC2RestrictedCommonPorts", "EC2RestrictedSSH")
    ),
)
_VALID_SERVICES = (_GATEWAY_SERVICE, *_INTERFACE_SERVICES)

#: Every endpoint this construct can create: what the pipelines' functions call (DynamoDB, SQS, SNS, SES)
#: plus KMS and CloudWatch Logs / monitoring for code in the VPC that calls those APIs itself.
DEFAULT_VPC_ENDPOINT_SERVICES: tuple[str, ...] = _VALID_SERVICES


class NotificationVpcEndpoints(Construct):
    """The VPC endpoints that :class:`QueueConsumerFunction` s placed in a VPC (``vpc=``) need to reach the
    AWS APIs without a NAT gateway: a DynamoDB *gateway* endpoint (route-table entries, no hourly cost) and
    *interface* endpoints with private DNS for SQS, SNS, SES (the ``email`` API the sender calls), KMS,
    CloudWatch Logs and CloudWatch monitoring. With private DNS the functions' SDK clients resolve the usual
    regional hostnames to the endpoints, so no code or configuration changes.

    The interface endpoints share one security group that allows only HTTPS (TCP 443) in - from the VPC's
    CIDR block, or from ``client_security_groups`` (e.g. the consumers' own groups) - and nothing out
    (endpoints answer, they never initiate connections).

    KMS, Logs and monitoring are for code that calls those APIs itself: SQS, SNS and DynamoDB use their keys
    server-side, and Lambda delivers the functions' logs (with their EMF metrics) outside the VPC. Each
    interface endpoint is billed per hour and AZ: choose with ``services``.

    Construct ids (a public contract): ``SecurityGroup`` (with interface endpoints), ``DynamoDbEndpoint``,
    ``SqsEndpoint``, ``SnsEndpoint``, ``EmailEndpoint``, ``KmsEndpoint``, ``LogsEndpoint``,
    ``MonitoringEndpoint`` - each only when its service is chosen.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection | None = None,
        services: Sequence[str] = DEFAULT_VPC_ENDPOINT_SERVICES,
        client_security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        dynamodb_policy_statements: Sequence[iam.PolicyStatement] | None = None,
    ) -> None:
        """
        :param vpc: The VPC the functions run in.
        :param subnets: Where the interface endpoints get their network interfaces, and whose route tables
            get the DynamoDB route. Default: - the VPC's private subnets (one interface endpoint network
            interface per AZ) and, for DynamoDB, all its subnets (aws-cdk-lib's defaults).
        :param services: The endpoints to create, by name: ``dynamodb``, ``sqs``, ``sns``, ``email`` (SES),
            ``kms``, ``logs``, ``monitoring``. Default: - all of them (:data:`DEFAULT_VPC_ENDPOINT_SERVICES`).
        :param client_security_groups: Security groups allowed to connect to the interface endpoints (on
            443). Default: - the VPC's CIDR block (which needs a VPC whose CIDR is known: created in this
            app, looked up, or imported with ``vpc_cidr_block``).
        :param dynamodb_policy_statements: Endpoint policy of the DynamoDB gateway endpoint, e.g. allowing
            only the pipelines' tables; each statement needs a principal (``iam.AnyPrincipal()`` for "any
            caller in the VPC", as IAM still applies). Default: - no policy (the AWS default: full access
            through the endpoint, limited by the callers' IAM policies).
        :raises NotificationConfigError: listing every problem, before any resource is created.
        """
        chosen = list(dict.fromkeys(services))  # order kept, duplicates dropped
        problems = Problems(scope, id)
        self._check_services(problems, services)
        interface_names = [name for name in chosen if name in _INTERFACE_SERVICES]
        cidr = self._check_cidr(problems, vpc) if interface_names and client_security_groups is None else None
        if client_security_groups is not None and not client_security_groups:
            problems.add("client_security_groups is empty: pass None to allow the VPC's CIDR block")
        if dynamodb_policy_statements is not None:
            problems.check(
                _GATEWAY_SERVICE in chosen,
                "dynamodb_policy_statements is given but 'dynamodb' is not in services",
            )
            for index, statement in enumerate(dynamodb_policy_statements):
                problems.check(
                    statement.has_principal,
                    f"dynamodb_policy_statements[{index}] has no principal: a VPC endpoint policy statement "
                    "needs one (iam.AnyPrincipal() for any caller in the VPC)",
                )
        if isinstance(vpc, ec2.Vpc) and interface_names:
            problems.check(
                vpc.dns_support_enabled and vpc.dns_hostnames_enabled,
                f"{vpc.node.path} has enable_dns_support/enable_dns_hostnames off: the interface endpoints' "
                "private DNS needs both",
            )
        problems.raise_if_any()

        super().__init__(scope, id)
        self.vpc = vpc
        #: The security group of the interface endpoints (None when only ``dynamodb`` is chosen).
        self.security_group: ec2.SecurityGroup | None = None
        #: The DynamoDB gateway endpoint (None unless ``dynamodb`` is chosen).
        self.dynamodb: ec2.GatewayVpcEndpoint | None = None
        #: Interface endpoints by service name (``sqs``, ``sns``, ``email``, ``kms``, ``logs``, ``monitoring``).
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}

        if _GATEWAY_SERVICE in chosen:
            self.dynamodb = ec2.GatewayVpcEndpoint(
                self,
                "DynamoDbEndpoint",
                vpc=vpc,
                service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
                subnets=None if subnets is None else [subnets],
            )
            for statement in dynamodb_policy_statements or ():
                self.dynamodb.add_to_policy(statement)

        if interface_names:
            self.security_group = ec2.SecurityGroup(
                self,
                "SecurityGroup",
                vpc=vpc,
                description=f"HTTPS to the AWS service endpoints of {self.node.path}",
                allow_all_outbound=False,
            )
            if client_security_groups is None:
                assert cidr is not None  # checked above
                self.security_group.add_ingress_rule(
                    ec2.Peer.ipv4(cidr), ec2.Port.tcp(_HTTPS), "HTTPS from the VPC"
                )
                if is_token(cidr):
                    # cdk-nag cannot read a CIDR known only at deploy time and reports it as open.
                    for rule in _OPEN_INGRESS_RULES:
                        acknowledge(
                            self.security_group,
                            rule,
                            "The one ingress rule is TCP 443 from the VPC's own CIDR block, which is a "
                            "deploy-time value here (an imported VPC), not 0.0.0.0/0.",
                        )
            else:
                for client in client_security_groups:
                    self.security_group.add_ingress_rule(
                        client, ec2.Port.tcp(_HTTPS), f"HTTPS from {client.node.path}"
                    )
            for name in interface_names:
                child_id, service = _INTERFACE_SERVICES[name]
                self.interface_endpoints[name] = ec2.InterfaceVpcEndpoint(
                    self,
                    child_id,
                    vpc=vpc,
                    service=service,
                    subnets=subnets,
                    private_dns_enabled=True,
                    security_groups=[self.security_group],
                    open=False,  # the one ingress rule above, not aws-cdk-lib's from the VPC CIDR
                )

    @staticmethod
    def _check_services(problems: Problems, services: Sequence[str]) -> None:
        valid = ", ".join(_VALID_SERVICES)
        if isinstance(services, str):
            problems.add(f"services {services!r}: expected a sequence of names ({valid}), not one string")
            return
        problems.check(bool(services), f"services is empty: choose at least one of {valid}")
        for index, name in enumerate(services):
            if is_token(name):
                problems.add(
                    f"services[{index}] is a token: which endpoints exist must be known at synth time "
                    f"(one of {valid})"
                )
            elif name not in _VALID_SERVICES:
                hint = " (the SES API is 'email')" if name in ("ses", "sesv2", "email-smtp") else ""
                problems.add(f"services[{index}] {name!r}: not one of {valid}{hint}")

    @staticmethod
    def _check_cidr(problems: Problems, vpc: ec2.IVpc) -> str | None:
        """The VPC's CIDR block: the literal of a VPC created in this app when it has one (so the template,
        and cdk-nag, read the rule as it is), else ``vpc_cidr_block`` (a token or a looked-up value)."""
        cfn = vpc.node.default_child
        if isinstance(cfn, ec2.CfnVPC) and cfn.cidr_block is not None and not is_token(cfn.cidr_block):
            return cfn.cidr_block
        try:
            return vpc.vpc_cidr_block
        except RuntimeError:  # an imported VPC without vpc_cidr_block (CannotPerformOperationVpcCidr)
            problems.add(
                f"the CIDR block of {vpc.node.path} is not known (imported without vpc_cidr_block): pass "
                "client_security_groups=[...] or import the VPC with vpc_cidr_block"
            )
            return None

    @property
    def endpoints(self) -> dict[str, ec2.IVpcEndpoint]:
        """Every endpoint created, by service name (``dynamodb`` and the interface endpoints)."""
        found: dict[str, ec2.IVpcEndpoint] = {}
        if self.dynamodb is not None:
            found[_GATEWAY_SERVICE] = self.dynamodb
        found.update(self.interface_endpoints)
        return found

    @property
    def sqs(self) -> ec2.InterfaceVpcEndpoint | None:
        """The SQS interface endpoint (None unless ``sqs`` is chosen)."""
        return self.interface_endpoints.get("sqs")

    @property
    def sns(self) -> ec2.InterfaceVpcEndpoint | None:
        """The SNS interface endpoint (None unless ``sns`` is chosen)."""
        return self.interface_endpoints.get("sns")

    @property
    def email(self) -> ec2.InterfaceVpcEndpoint | None:
        """The SES API (``email``) interface endpoint (None unless ``email`` is chosen)."""
        return self.interface_endpoints.get("email")

    @property
    def kms(self) -> ec2.InterfaceVpcEndpoint | None:
        """The KMS interface endpoint (None unless ``kms`` is chosen)."""
        return self.interface_endpoints.get("kms")

    @property
    def logs(self) -> ec2.InterfaceVpcEndpoint | None:
        """The CloudWatch Logs interface endpoint (None unless ``logs`` is chosen)."""
        return self.interface_endpoints.get("logs")

    @property
    def monitoring(self) -> ec2.InterfaceVpcEndpoint | None:
        """The CloudWatch monitoring interface endpoint (None unless ``monitoring`` is chosen)."""
        return self.interface_endpoints.get("monitoring")
