"""SmtpCredentials: SES SMTP credentials (port 587) for applications that cannot call the SES API."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput, CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from constructs import Construct

from ._defaults import new_cmk
from ._functions import custom_resource_function
from ._validation import Problems, acknowledge, is_token, is_valid_email

__all__ = ["SmtpCredentials"]

_RESOURCE_TYPE = "Custom::SesSmtpCredentials"
#: STARTTLS submission port of the SES SMTP endpoints (also the handler's, lambda_handlers.smtp_credentials).
SMTP_PORT = 587


class SmtpCredentials(Construct):
    """An IAM user that may only send raw mail (``ses:SendRawEmail``, what the SES SMTP interface is
    authorized by) from ``from_addresses`` (``ses:FromAddress``) through ``identities``, and its SMTP
    credentials in :attr:`secret` (JSON ``username``, ``password``, ``host``, ``port``).

    The password is derived from an access key of the user with the documented SigV4-based conversion, for
    this stack's region (an SMTP password works only in the region it was derived for), by a custom
    resource (``lambda_handlers.smtp_credentials``) that creates the key and writes the secret itself: the
    secret access key and the password appear in no template, output, parameter or stack event.

    Rotate by changing ``rotation`` and deploying: a new key is created and stored first, and the old key
    is deleted in CloudFormation's cleanup phase, so an application re-reading the secret on
    authentication failure (535) never holds a deleted key for long. Secrets Manager's automatic rotation
    is not used (it would need a rotation function doing the same; cdk-nag's rule is acknowledged).

    Outputs: ``{id}Endpoint`` (``email-smtp.<region>.amazonaws.com``), ``{id}Port`` (587, STARTTLS) and
    ``{id}SecretArn``.

    Child ids (a public contract): ``User``, ``Group``, ``SendPolicy``, ``Secret``, ``SecretKey`` (unless
    ``encryption_key``), ``Provider`` (+ ``ProviderRole``, ``ProviderLogGroup``, ``ProviderLogKey``),
    ``AccessKey``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        identities: Sequence[ses.IEmailIdentity],
        from_addresses: Sequence[str],
        configuration_sets: Sequence[ses.IConfigurationSet] = (),
        rotation: str = "1",
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        """
        :param identities: SES identities the user may send through (e.g. a :class:`SenderIdentity`).
        :param from_addresses: The only ``From`` addresses allowed (``ses:FromAddress``; ``*`` wildcards as
            in ``StringLike``, e.g. ``*@shop.example.com``). Required: SMTP clients choose their own ``From``.
        :param configuration_sets: Configuration sets the clients may name (``X-SES-CONFIGURATION-SET``) or
            that the identities use by default. Default: - none.
        :param rotation: Change to rotate the access key (any string, e.g. a date). Default: "1".
        :param encryption_key: Key of the secret. Default: - a new customer-managed key (rotation on).
        :param removal_policy: For the secret, its key and the provider's log group. Default: DESTROY (the
            user and its keys are deleted with the stack anyway).
        """
        super().__init__(scope, id)
        problems = Problems(self)
        problems.check(len(identities) > 0, "identities: give at least one SES identity")
        problems.check(len(from_addresses) > 0, "from_addresses: give at least one allowed From address")
        for address in from_addresses:
            if is_token(address):
                continue
            local_domain = address.replace("*", "x")
            problems.check(
                is_valid_email(local_domain),
                f"from_addresses: {address!r} is not an address or a pattern like '*@example.com'",
            )
        problems.check(is_token(rotation) or bool(rotation), "rotation: must not be empty")
        problems.raise_if_any()

        stack = Stack.of(self)
        resources = [i.email_identity_arn for i in identities] + [
            stack.format_arn(
                service="ses", resource="configuration-set", resource_name=c.configuration_set_name
            )
            for c in configuration_sets
        ]
        # Users get permissions through a group (HIPAA / NIST / PCI packs: no policies attached to users).
        self.group = iam.Group(self, "Group")
        self.user = iam.User(self, "User", groups=[self.group])
        policy = iam.Policy(
            self,
            "SendPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["ses:SendRawEmail"],
                    resources=resources,
                    conditions={"StringLike": {"ses:FromAddress": list(from_addresses)}},
                )
            ],
            groups=[self.group],
        )
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(
                policy,
                f"{pack}-IAMNoInlinePolicy",
                "The group's one policy is created and deleted with it and allows only ses:SendRawEmail on the "
                "named identities, with an ses:FromAddress condition.",
            )

        key = encryption_key or new_cmk(
            self,
            "SecretKey",
            description=f"Encrypts the SMTP credentials of {self.node.path}",
            removal_policy=removal_policy,
        )
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description=f"SES SMTP credentials (username, password, host, port) of {self.node.path}",
            encryption_key=key,
            removal_policy=removal_policy,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Rotated by changing the construct's rotation prop and deploying (a new IAM access key is created "
            "and stored, then the old one deleted); an automatic rotation function would do the same.",
        )
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(
                self.secret,
                f"{pack}-SecretsManagerRotationEnabled",
                "Rotated through the rotation prop (see AwsSolutions-SMG4).",
            )

        provider = custom_resource_function(
            self,
            "Provider",
            handler="lambda_handlers.smtp_credentials.handler.handler",
            description=f"Creates the access key of {self.node.path}/User and stores its SMTP credentials.",
            removal_policy=removal_policy,
        )
        provider.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:CreateAccessKey", "iam:DeleteAccessKey"], resources=[self.user.user_arn]
            )
        )
        self.secret.grant_write(provider)
        # PutSecretValue with a customer-managed key also needs kms:Decrypt and kms:GenerateDataKey
        # (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
        key.grant(provider, "kms:Decrypt", "kms:GenerateDataKey")
        self.access_key = CustomResource(
            self,
            "AccessKey",
            service_token=provider.function_arn,
            resource_type=_RESOURCE_TYPE,
            properties={
                "UserName": self.user.user_name,
                "SecretArn": self.secret.secret_arn,
                "Region": stack.region,
                "Rotation": rotation,
            },
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.access_key.node.add_dependency(policy)
        #: The SMTP user name (the access key id), known after deployment.
        self.access_key_id: str = self.access_key.get_att_string("AccessKeyId")
        self.smtp_endpoint: str = f"email-smtp.{stack.region}.amazonaws.com"
        self.smtp_port: int = SMTP_PORT
        CfnOutput(self, "Endpoint", value=self.smtp_endpoint, description="SES SMTP endpoint (STARTTLS)")
        CfnOutput(self, "Port", value=str(SMTP_PORT), description="SES SMTP port (STARTTLS)")
        CfnOutput(
            self, "SecretArn", value=self.secret.secret_arn, description="Secret with the SMTP credentials"
        )

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let an application read the SMTP credentials (``secretsmanager:GetSecretValue`` + the key)."""
        return self.secret.grant_read(grantee)
