"""NotificationVpcEndpoints: DynamoDB gateway + private-DNS interface endpoints, HTTPS-only, nag clean."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Fn, Stack, Token, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from cdk_nag import HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks

from notification_constructs import NotificationConfigError, ProcessingQueue, QueueConsumerFunction
from notification_constructs.vpc_endpoints import DEFAULT_VPC_ENDPOINT_SERVICES, NotificationVpcEndpoints
from tests.support.validators import add_nag_packs, synth_with_nag

ENV = {"account": "111111111111", "region": "eu-west-1"}
ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
INTERFACE_SERVICES = {
    "sqs": "com.amazonaws.eu-west-1.sqs",
    "sns": "com.amazonaws.eu-west-1.sns",
    "email": "com.amazonaws.eu-west-1.email",
    "kms": "com.amazonaws.eu-west-1.kms",
    "logs": "com.amazonaws.eu-west-1.logs",
    "monitoring": "com.amazonaws.eu-west-1.monitoring",
}


def _isolated_vpc(stack: Stack) -> ec2.Vpc:
    """Two AZs of isolated subnets only: no NAT, no internet gateway; flow logs on (AwsSolutions-VPC7)."""
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    vpc.add_flow_log("FlowLog")
    return vpc


def _consumer(stack: Stack, vpc: ec2.IVpc) -> QueueConsumerFunction:
    queue = ProcessingQueue(stack, "Work")
    return QueueConsumerFunction(
        stack,
        "Consumer",
        queue=queue,
        handler="lambda_handlers.order_writer.handler.handler",
        vpc=vpc,
        vpc_subnets=ISOLATED,
    )


@pytest.fixture(scope="module")
def built() -> tuple[Template, NotificationVpcEndpoints, Stack]:
    stack = Stack(App(), "Endpoints", env=ENV)
    vpc = _isolated_vpc(stack)
    endpoints = NotificationVpcEndpoints(stack, "Endpoints", vpc=vpc, subnets=ISOLATED)
    _consumer(stack, vpc)
    return Template.from_stack(stack), endpoints, stack


@pytest.fixture(scope="module")
def template(built: tuple[Template, NotificationVpcEndpoints, Stack]) -> Template:
    return built[0]


@pytest.fixture(scope="module")
def with_client_groups() -> Template:
    stack = Stack(App(), "ClientGroups", env=ENV)
    vpc = _isolated_vpc(stack)
    consumer = _consumer(stack, vpc)
    NotificationVpcEndpoints(
        stack,
        "Endpoints",
        vpc=vpc,
        subnets=ISOLATED,
        services=("dynamodb", "sqs", "email"),
        client_security_groups=consumer.connections.security_groups,
        dynamodb_policy_statements=[
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                resources=["arn:aws:dynamodb:eu-west-1:111111111111:table/orders"],
            )
        ],
    )
    return Template.from_stack(stack)


def _isolated_refs(template: Template, kind: str) -> list[dict[str, str]]:
    """Refs to the isolated subnets' ``kind`` (Subnet / RouteTable) resources, in logical-id order."""
    resource_type = "AWS::EC2::Subnet" if kind == "Subnet" else "AWS::EC2::RouteTable"
    return [{"Ref": logical_id} for logical_id in sorted(template.find_resources(resource_type))]


def test_the_dynamodb_endpoint_is_a_gateway_on_the_chosen_subnets_route_tables(template: Template) -> None:
    # THEN one gateway endpoint for DynamoDB adds routes to the isolated subnets' route tables
    template.resource_properties_count_is("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"}, 1)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Gateway",
            "RouteTableIds": Match.array_equals(_isolated_refs(template, "RouteTable")),
        },
    )
    gateway = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}})
    service = next(iter(gateway.values()))["Properties"]["ServiceName"]
    assert service["Fn::Join"][1][-1] == ".dynamodb"


@pytest.mark.parametrize(("name", "service_name"), sorted(INTERFACE_SERVICES.items()))
def test_each_interface_endpoint_has_private_dns_the_shared_group_and_the_chosen_subnets(
    template: Template, name: str, service_name: str
) -> None:
    # THEN the service's interface endpoint resolves the regional hostname privately, in the isolated subnets
    group = next(iter(template.find_resources("AWS::EC2::SecurityGroup", _endpoint_group_filter())))
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Interface",
            "ServiceName": service_name,
            "PrivateDnsEnabled": True,
            "SecurityGroupIds": [{"Fn::GetAtt": [group, "GroupId"]}],
            "SubnetIds": Match.array_equals(_isolated_refs(template, "Subnet")),
        },
    )


def test_ses_is_the_email_api_endpoint_not_the_smtp_one(template: Template) -> None:
    # THEN the sender's SESv2 calls have an endpoint, and no SMTP endpoint is created
    names = [
        r["Properties"]["ServiceName"] for r in template.find_resources("AWS::EC2::VPCEndpoint").values()
    ]
    assert "com.amazonaws.eu-west-1.email" in names
    assert not [n for n in names if isinstance(n, str) and "email-smtp" in n]
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1 + len(INTERFACE_SERVICES))


def _endpoint_group_filter() -> dict[str, Any]:
    return {"Properties": {"GroupDescription": Match.string_like_regexp("AWS service endpoints")}}


def test_the_endpoints_group_allows_only_https_from_the_vpc_cidr_and_nothing_out(template: Template) -> None:
    # GIVEN the endpoints' security group
    groups = template.find_resources("AWS::EC2::SecurityGroup", _endpoint_group_filter())
    assert len(groups) == 1
    properties = next(iter(groups.values()))["Properties"]
    # THEN its one ingress rule is TCP 443 from the VPC's CIDR block, and its egress is aws-cdk-lib's
    # "disallow all" placeholder
    assert properties["SecurityGroupIngress"] == [
        {
            "CidrIp": "10.0.0.0/16",
            "Description": "HTTPS from the VPC",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert [rule["Description"] for rule in properties["SecurityGroupEgress"]] == ["Disallow all traffic"]
    template.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)


def test_the_endpoints_are_exposed_as_attributes(
    built: tuple[Template, NotificationVpcEndpoints, Stack],
) -> None:
    # GIVEN the construct with every service
    template, endpoints, stack = built
    # THEN each endpoint is reachable by name and through its own attribute, and ids are the documented ones
    assert list(endpoints.endpoints) == list(DEFAULT_VPC_ENDPOINT_SERVICES)
    by_attribute = {
        "dynamodb": endpoints.dynamodb,
        "sqs": endpoints.sqs,
        "sns": endpoints.sns,
        "email": endpoints.email,
        "kms": endpoints.kms,
        "logs": endpoints.logs,
        "monitoring": endpoints.monitoring,
    }
    assert by_attribute == endpoints.endpoints
    assert endpoints.email is not None and endpoints.email.node.id == "EmailEndpoint"
    assert endpoints.security_group is not None
    ingress = template.find_resources("AWS::EC2::SecurityGroup", _endpoint_group_filter())
    assert list(ingress) == [stack.get_logical_id(endpoints.security_group.node.default_child)]  # type: ignore[arg-type]


def test_the_consumer_runs_in_the_subnets_the_endpoints_serve(template: Template) -> None:
    # THEN the function's VpcConfig names the same isolated subnets as the interface endpoints
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambda_handlers.order_writer.handler.handler",
            "VpcConfig": {
                "SubnetIds": Match.array_equals(_isolated_refs(template, "Subnet")),
                "SecurityGroupIds": Match.any_value(),
            },
        },
    )


def test_with_client_groups_only_those_groups_may_connect(with_client_groups: Template) -> None:
    # GIVEN the consumer's security group as the one client
    consumer_group = next(
        iter(
            with_client_groups.find_resources(
                "AWS::EC2::SecurityGroup",
                {"Properties": {"GroupDescription": Match.string_like_regexp("Lambda Function")}},
            )
        )
    )
    # THEN HTTPS is allowed from that group, and the endpoints' group has no CIDR ingress
    with_client_groups.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "SourceSecurityGroupId": {"Fn::GetAtt": [consumer_group, "GroupId"]},
        },
    )
    with_client_groups.resource_count_is("AWS::EC2::SecurityGroupIngress", 1)
    groups = with_client_groups.find_resources("AWS::EC2::SecurityGroup", _endpoint_group_filter())
    assert "SecurityGroupIngress" not in next(iter(groups.values()))["Properties"]


def test_only_the_chosen_services_get_endpoints(with_client_groups: Template) -> None:
    # THEN services=("dynamodb", "sqs", "email") creates exactly those three
    interface = with_client_groups.find_resources(
        "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}
    )
    assert sorted(r["Properties"]["ServiceName"] for r in interface.values()) == [
        "com.amazonaws.eu-west-1.email",
        "com.amazonaws.eu-west-1.sqs",
    ]
    with_client_groups.resource_properties_count_is(
        "AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"}, 1
    )


def test_the_dynamodb_endpoint_policy_is_the_given_statements(with_client_groups: Template) -> None:
    # THEN the gateway endpoint's policy allows only what was given
    with_client_groups.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Gateway",
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "*"},
                        "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                        "Resource": "arn:aws:dynamodb:eu-west-1:111111111111:table/orders",
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )


def test_without_a_policy_the_gateway_endpoint_has_none(template: Template) -> None:
    # THEN the AWS default applies (full access through the endpoint, IAM still decides)
    gateway = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}})
    assert "PolicyDocument" not in next(iter(gateway.values()))["Properties"]


def test_only_dynamodb_creates_no_security_group() -> None:
    # GIVEN only the gateway endpoint
    stack = Stack(App(), "GatewayOnly", env=ENV)
    endpoints = NotificationVpcEndpoints(stack, "Endpoints", vpc=_isolated_vpc(stack), services=["dynamodb"])
    # THEN nothing needs a security group
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1)
    template.resource_count_is("AWS::EC2::SecurityGroup", 0)
    assert endpoints.security_group is None and endpoints.interface_endpoints == {}


def test_fails_listing_every_problem_of_the_settings() -> None:
    # GIVEN unknown and token service names, a DynamoDB policy (without principal) but no DynamoDB, and a VPC
    # whose CIDR is not known
    stack = Stack(App(), "Bad", env=ENV)
    imported = ec2.Vpc.from_vpc_attributes(
        stack, "Imported", vpc_id="vpc-1", availability_zones=["eu-west-1a"], private_subnet_ids=["subnet-1"]
    )
    # WHEN the construct is created THEN one error names each problem and the valid names
    with pytest.raises(NotificationConfigError) as error:
        NotificationVpcEndpoints(
            stack,
            "Endpoints",
            vpc=imported,
            services=["sqs", "ses", "s3", Token.as_string(Fn.ref("Service"))],
            dynamodb_policy_statements=[iam.PolicyStatement(actions=["dynamodb:*"], resources=["*"])],
        )
    problems = error.value.problems
    assert len(problems) == 6, problems
    assert all(p.startswith("[Bad/Endpoints] ") for p in problems)
    valid = "dynamodb, sqs, sns, email, kms, logs, monitoring"
    assert any(f"services[1] 'ses': not one of {valid} (the SES API is 'email')" in p for p in problems)
    assert any(f"services[2] 's3': not one of {valid}" in p for p in problems)
    assert any("services[3] is a token" in p for p in problems)
    assert any("dynamodb_policy_statements is given but 'dynamodb' is not in services" in p for p in problems)
    assert any("CIDR block of Bad/Imported is not known" in p for p in problems)
    assert any("dynamodb_policy_statements[0] has no principal" in p for p in problems)


def test_fails_if_a_policy_statement_has_no_principal_or_services_is_a_string() -> None:
    stack = Stack(App(), "Bad", env=ENV)
    vpc = _isolated_vpc(stack)
    with pytest.raises(NotificationConfigError, match=r"services 'sqs': expected a sequence of names"):
        NotificationVpcEndpoints(stack, "One", vpc=vpc, services="sqs")
    with pytest.raises(NotificationConfigError, match=r"dynamodb_policy_statements\[0\] has no principal"):
        NotificationVpcEndpoints(
            stack,
            "Two",
            vpc=vpc,
            dynamodb_policy_statements=[iam.PolicyStatement(actions=["dynamodb:*"], resources=["*"])],
        )
    with pytest.raises(NotificationConfigError, match=r"services is empty: choose at least one of dynamodb"):
        NotificationVpcEndpoints(stack, "Three", vpc=vpc, services=())
    with pytest.raises(NotificationConfigError, match=r"client_security_groups is empty"):
        NotificationVpcEndpoints(stack, "Four", vpc=vpc, client_security_groups=[])


def test_fails_if_the_vpc_has_dns_off() -> None:
    # GIVEN a VPC without DNS hostnames WHEN interface endpoints are asked for THEN private DNS cannot work
    stack = Stack(App(), "NoDns", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, enable_dns_hostnames=False)
    with pytest.raises(
        NotificationConfigError, match=r"NoDns/Vpc has enable_dns_support/enable_dns_hostnames"
    ):
        NotificationVpcEndpoints(stack, "Endpoints", vpc=vpc)


def test_a_deploy_time_cidr_is_used_as_is_and_acknowledged_for_cdk_nag(tmp_path: Any) -> None:
    # GIVEN a VPC imported with a CIDR known only at deploy time
    app = App(outdir=str(tmp_path))
    add_nag_packs(app)
    stack = Stack(app, "Imported", env=ENV)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-1",
        vpc_cidr_block=Fn.import_value("network-cidr"),
        availability_zones=["eu-west-1a", "eu-west-1b"],
        private_subnet_ids=["subnet-1", "subnet-2"],
    )
    NotificationVpcEndpoints(stack, "Endpoints", vpc=vpc, services=["sqs"])
    # WHEN it synthesizes under AwsSolutions + Serverless THEN no finding (the token is not 0.0.0.0/0)
    synth_with_nag(app)
    # AND the rule names the imported value
    Template.from_stack(stack).has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"SecurityGroupIngress": [Match.object_like({"CidrIp": {"Fn::ImportValue": "network-cidr"}})]},
    )


def test_the_endpoints_and_a_consumer_in_the_vpc_are_clean_under_aws_solutions(tmp_path: Any) -> None:
    # GIVEN the isolated VPC, the endpoints and a consumer, with AwsSolutions + Serverless
    app = App(outdir=str(tmp_path))
    add_nag_packs(app)
    stack = Stack(app, "Nag", env=ENV)
    vpc = _isolated_vpc(stack)
    NotificationVpcEndpoints(stack, "Endpoints", vpc=vpc, subnets=ISOLATED)
    _consumer(stack, vpc)
    # WHEN it synthesizes THEN no pack reports an unacknowledged finding
    synth_with_nag(app)


def test_the_endpoints_have_no_finding_under_the_compliance_packs(tmp_path: Any) -> None:
    # GIVEN the endpoints in an isolated VPC under HIPAA, NIST 800-53 R5 and PCI DSS 3.2.1
    app = App(outdir=str(tmp_path))
    Validations.of(app).add_plugins(
        *(pack(app) for pack in (HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks))
    )
    stack = Stack(app, "Regulated", env=ENV)
    NotificationVpcEndpoints(stack, "Endpoints", vpc=_isolated_vpc(stack), subnets=ISOLATED)
    # WHEN it synthesizes THEN none of the findings (the test VPC's own, e.g. its flow-log group) is ours
    try:
        synth_with_nag(app)
        findings: list[str] = []
    except AssertionError as error:
        findings = [line for line in str(error).splitlines() if "/Endpoints/" in line]
    assert findings == []
