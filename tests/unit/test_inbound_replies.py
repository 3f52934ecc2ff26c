"""InboundReplies at synth: the receipt rule and its S3 action, the bucket and key policies scoped to the
rule, the MX record with a hosted zone, activation only when opted in, the classifier's environment and
permissions, misconfiguration reported at synth, and clean under cdk-nag."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Duration, Fn, Stack
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Annotations, Match, Template

from lambda_handlers import contracts
from lambda_handlers.reply_classifier.config import load_config
from notification_constructs import NotificationConfigError, ProcessingQueue
from notification_constructs.inbound_replies import InboundReplies
from tests.support.validators import add_nag_packs, synth_with_nag

ENV = {"account": "111111111111", "region": "eu-west-1"}
REPLY_ADDRESS = "replies@shop.example.com"


def _stack(*, zone: bool = True, **props: Any) -> tuple[Stack, InboundReplies]:
    stack = Stack(App(), "Mail", env=ENV)
    if zone:
        props.setdefault("hosted_zone", route53.HostedZone(stack, "Zone", zone_name="shop.example.com"))
    props.setdefault("recipients", [REPLY_ADDRESS])
    props.setdefault("forward_to", "team@example.com")
    props.setdefault("forward_from", f"Shop <{REPLY_ADDRESS}>")
    replies = InboundReplies(stack, "Replies", **props)
    return stack, replies


@pytest.fixture(scope="module")
def built() -> tuple[Stack, InboundReplies, Template]:
    stack, replies = _stack()
    return stack, replies, Template.from_stack(stack)


@pytest.fixture(scope="module")
def template(built: tuple[Stack, InboundReplies, Template]) -> Template:
    return built[2]


def _one(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = template.find_resources(resource_type).items()
    return item


def test_the_rule_stores_mail_in_the_bucket_and_notifies_the_topic(template: Template) -> None:
    # THEN one rule for the reply address: scanned, TLS required, its one action the S3 action
    (_, rule) = _one(template, "AWS::SES::ReceiptRule")
    properties = rule["Properties"]["Rule"]
    assert properties["Recipients"] == [REPLY_ADDRESS]
    assert properties["ScanEnabled"] is True and properties["TlsPolicy"] == "Require"
    (action,) = properties["Actions"]
    assert set(action) == {"S3Action"}
    assert action["S3Action"]["ObjectKeyPrefix"] == contracts.INBOUND_OBJECT_PREFIX
    assert "Ref" in action["S3Action"]["TopicArn"] and "Ref" in action["S3Action"]["BucketName"]
    assert "KmsKeyArn" not in action["S3Action"]  # no client-side encryption (see the construct)
    # AND the rule has a name of its own and waits for the bucket policy
    assert isinstance(properties["Name"], str) and 0 < len(properties["Name"]) <= 63
    assert any(d.startswith("RepliesBucketPolicy") for d in rule["DependsOn"])
    template.resource_count_is("AWS::SES::ReceiptRuleSet", 1)


def test_ses_may_write_only_under_the_prefix_and_only_for_this_rule(template: Template) -> None:
    # GIVEN the bucket policy THEN its one SES statement allows PutObject under inbound/ for this rule only
    (_, policy) = _one(template, "AWS::S3::BucketPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    ses_statements = [s for s in statements if s.get("Principal") == {"Service": "ses.amazonaws.com"}]
    (statement,) = ses_statements
    assert statement["Action"] == "s3:PutObject"
    assert json.dumps(statement["Resource"]).endswith('"/inbound/*"]]}')
    conditions = statement["Condition"]["StringEquals"]
    assert conditions["aws:SourceAccount"] == "111111111111"
    arn = json.dumps(conditions["aws:SourceArn"])
    (_, rule) = _one(template, "AWS::SES::ReceiptRule")
    rule_name = rule["Properties"]["Rule"]["Name"]
    # arn:aws:ses:eu-west-1:111111111111:receipt-rule-set/<set>:receipt-rule/<rule>
    assert "arn:" in arn and ":ses:eu-west-1:111111111111:receipt-rule-set/" in arn
    assert '"Ref": "RepliesRuleSet' in arn and f":receipt-rule/{rule_name}" in arn
    # AND the bucket refuses plain HTTP
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_the_bucket_is_encrypted_private_and_expires_mail(template: Template) -> None:
    # THEN the bucket is SSE-KMS with a bucket key, blocks public access and expires mail after 30 days
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": Match.any_value(),
                        },
                    }
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"ExpirationInDays": 30, "Status": "Enabled"})])
            },
        },
    )


def test_ses_may_use_the_key_only_through_s3_and_publish_only_for_this_rule(template: Template) -> None:
    # GIVEN the data key's policy THEN SES may use the key only through S3
    (_, key) = next(
        (k, v) for k, v in template.find_resources("AWS::KMS::Key").items() if k.startswith("RepliesDataKey")
    )
    ses_key = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "ses.amazonaws.com"}
    ]
    via_s3 = [s for s in ses_key if "kms:ViaService" in json.dumps(s)]
    assert len(via_s3) == 1
    assert via_s3[0]["Condition"]["StringEquals"]["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"
    # AND the topic (and its key) let SES publish only on behalf of the receipt rule
    (_, topic_policy) = _one(template, "AWS::SNS::TopicPolicy")
    (publish,) = [
        s
        for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "ses.amazonaws.com"}
    ]
    assert publish["Action"] == "sns:Publish"
    assert ":receipt-rule/" in json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])


def test_the_mx_record_points_at_the_regions_receiving_endpoint(template: Template) -> None:
    # THEN the zone gets the region's inbound endpoint as MX for the reply domain
    template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Type": "MX",
            "Name": "shop.example.com.",
            "ResourceRecords": ["10 inbound-smtp.eu-west-1.amazonaws.com"],
        },
    )


def test_activation_is_opt_in(template: Template) -> None:
    # GIVEN the default construct THEN nothing activates a rule set
    template.resource_count_is("Custom::SesActiveReceiptRuleSet", 0)
    # WHEN activate=True THEN one custom resource names the construct's rule set, after the rule exists
    stack, replies = _stack(activate=True)
    activated = Template.from_stack(stack)
    (_, resource) = _one(activated, "Custom::SesActiveReceiptRuleSet")
    rule_set = replies.rule_set.node.default_child
    assert isinstance(rule_set, ses.CfnReceiptRuleSet)
    assert resource["Properties"]["RuleSetName"] == {"Ref": stack.get_logical_id(rule_set)}
    assert any(d.startswith("RepliesRule") and "RuleSet" not in d for d in resource["DependsOn"])
    activated.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "lambda_handlers.reply_classifier.activation.handler"}
    )
    # AND its provider may only (de)activate receipt rule sets
    policies = activated.find_resources("AWS::IAM::Policy")
    statements = [
        s
        for logical_id, p in policies.items()
        if logical_id.startswith("RepliesActivationProviderRole")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {
        "Action": ["ses:SetActiveReceiptRuleSet", "ses:DescribeActiveReceiptRuleSet"],
        "Effect": "Allow",
        "Resource": "*",
    } in statements


def test_an_existing_rule_set_gets_the_rule_and_no_new_set() -> None:
    # GIVEN an existing (imported) rule set WHEN the construct uses it
    stack = Stack(App(), "Mail", env=ENV)
    existing = ses.ReceiptRuleSet.from_receipt_rule_set_name(stack, "Active", "main-rules")
    InboundReplies(
        stack,
        "Replies",
        recipients=[REPLY_ADDRESS],
        forward_queue=ProcessingQueue(stack, "Team"),
        rule_set=existing,
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SES::ReceiptRuleSet", 0)
    template.has_resource_properties("AWS::SES::ReceiptRule", {"RuleSetName": "main-rules"})
    (_, policy) = _one(template, "AWS::S3::BucketPolicy")
    assert "receipt-rule-set/main-rules:receipt-rule/" in json.dumps(policy)


def _classifier(template: Template) -> dict[str, Any]:
    (function,) = [
        f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "lambda_handlers.reply_classifier.handler.handler"
    ]
    return function


def test_the_classifier_gets_a_configuration_its_handler_accepts(template: Template) -> None:
    # GIVEN the classifier's synthesized environment (tokens standing in for deployed values)
    variables = _classifier(template)["Environment"]["Variables"]
    environ = {k: v if isinstance(v, str) else f"resolved-{k.lower()}" for k, v in variables.items()}
    environ[contracts.DEAD_LETTER_QUEUE_URL_ENV] = "https://sqs.eu-west-1.amazonaws.com/1/dlq"
    # WHEN the handler loads it THEN it is accepted as deployed
    config = load_config(environ)
    assert config.forward_to_address == "team@example.com"
    assert config.forward_from_address == f"Shop <{REPLY_ADDRESS}>"
    assert config.max_message_bytes == contracts.DEFAULT_MAX_INBOUND_MESSAGE_BYTES


def test_the_classifier_may_read_stored_mail_and_send_only_from_the_reply_identity(
    template: Template,
) -> None:
    # GIVEN the classifier role's statements THEN reads are limited to inbound/ and sends to the From address
    statements = [
        s
        for logical_id, p in template.find_resources("AWS::IAM::Policy").items()
        if logical_id.startswith("RepliesClassifier")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_action = {json.dumps(s["Action"]): s for s in statements}
    assert json.dumps(by_action['"s3:GetObject"']["Resource"]).endswith('"/inbound/*"]]}')
    send = by_action['["ses:SendEmail", "ses:SendRawEmail"]']
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": REPLY_ADDRESS}}
    resources = json.dumps(send["Resource"])
    assert f"identity/{REPLY_ADDRESS}" in resources and 'identity/shop.example.com"' in resources


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"recipients": []}, "recipients: give 1-100"),
        ({"recipients": ["not a domain!"]}, "'not a domain!' is neither an e-mail address nor a domain"),
        ({"forward_to": None, "forward_from": None}, "give at least one; human replies need somewhere to go"),
        ({"forward_from": None}, "forward_from: required with forward_to"),
        ({"forward_from": "Shop <replies@>"}, "forward_from 'Shop <replies@>'"),
        ({"retention": Duration.hours(36)}, "retention: a whole number of days"),
        ({"max_message_bytes": 10}, "max_message_bytes 10: must be 1024-41943040"),
        (
            {"recipients": ["replies@elsewhere.example.org"]},
            "recipient domain elsewhere.example.org is not in this zone",
        ),
    ],
)
def test_fails_if_misconfigured_naming_the_prop(props: dict[str, Any], message: str) -> None:
    # GIVEN one bad prop WHEN synthesizing THEN the error names it
    with pytest.raises(NotificationConfigError, match=message):
        _stack(**props)


def test_fails_if_an_existing_rule_set_should_be_activated() -> None:
    # GIVEN an existing rule set and activate=True THEN synth refuses (it would switch someone else's set)
    stack = Stack(App(), "Mail", env=ENV)
    existing = ses.ReceiptRuleSet.from_receipt_rule_set_name(stack, "Active", "main-rules")
    with pytest.raises(
        NotificationConfigError, match="activate=True only activates the rule set this construct"
    ):
        InboundReplies(
            stack,
            "R",
            recipients=[REPLY_ADDRESS],
            forward_to="t@example.com",
            forward_from=REPLY_ADDRESS,
            rule_set=existing,
            activate=True,
        )


def test_a_region_without_email_receiving_is_a_warning() -> None:
    # GIVEN a region without an email-receiving endpoint WHEN synthesizing THEN a warning says so
    stack = Stack(App(), "Mail", env={"account": "111111111111", "region": "eu-south-1"})
    InboundReplies(
        stack, "Replies", recipients=["reply.example.com"], forward_queue=ProcessingQueue(stack, "Q")
    )
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("not documented for eu-south-1")
    )
    assert len(warnings) == 1


def test_tokens_pass_through() -> None:
    # GIVEN deploy-time values for every address THEN nothing is validated at synth and the rule exists
    stack = Stack(App(), "Mail")
    InboundReplies(
        stack,
        "Replies",
        recipients=[Fn.import_value("ReplyAddress")],
        forward_to=Fn.import_value("TeamAddress"),
        forward_from=Fn.import_value("FromAddress"),
    )
    Template.from_stack(stack).resource_count_is("AWS::SES::ReceiptRule", 1)


def test_clean_under_cdk_nag(tmp_path: Any) -> None:
    # GIVEN every option on (forward by e-mail and queue, MX, activation) WHEN synthesized under both packs
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Mail", env=ENV)
    zone = route53.HostedZone(stack, "Zone", zone_name="shop.example.com")
    InboundReplies(
        stack,
        "Replies",
        recipients=[REPLY_ADDRESS],
        forward_to="team@example.com",
        forward_from=REPLY_ADDRESS,
        forward_queue=ProcessingQueue(stack, "Team"),
        hosted_zone=zone,
        activate=True,
    )
    add_nag_packs(app)
    synth_with_nag(app)


def test_the_template_passes_cfn_lint() -> None:
    # GIVEN the template with activation THEN cfn-lint finds nothing
    from tests.support.validators import cfn_lint

    stack, _ = _stack(activate=True, forward_queue=None)
    assert cfn_lint(Template.from_stack(stack).to_json()) == []
