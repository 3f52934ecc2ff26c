"""SNS delivery in the sandbox, per protocol, as SNS does it.

moto delivers to SQS (kept: filter policies, raw delivery) and posts to HTTP endpoints anywhere; it ignores
the other protocols. This module replaces ``Subscription.publish``:

- ``sqs``: moto's delivery (envelope or raw), filter policies with ``FilterPolicyScope`` honoured.
- ``lambda``: an asynchronous invoke through the sandbox's Lambda runner with SNS's event shape.
- ``http`` / ``https``: a POST with SNS's headers to loopback endpoints only (anything else is a failed
  delivery; nothing leaves the machine), a few quick retries for 5xx / 429 / connection errors, each final
  result in the outbox (``kind="http"``). HTTPS verifies the endpoint's certificate against the system's
  CAs plus those added with :func:`trust_certificate` (a test server's self-signed one).
- ``sms``: outbox ``kind="sms"`` (opted-out numbers are skipped); ``Publish(PhoneNumber=...)`` too.
- ``email`` / ``email-json``: outbox ``kind="sns-email"``.
- ``application``: outbox ``kind="push"`` with the platform's message (``MessageStructure=json`` picks the
  platform key, e.g. ``GCM`` / ``APNS``, else ``default``).

A failed delivery goes to the subscription's ``RedrivePolicy`` dead-letter queue when one is set. E-mail
and HTTP(S) subscriptions are confirmed at once (real SNS waits for the endpoint to confirm); the
confirmation request is still recorded (e-mail) or POSTed (HTTP).
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

from ._state import DEFAULT_ACCOUNT, SandboxState

COMPONENT = "sns"
#: How many retries a delivery policy may ask for here, and the delay between them (seconds): the
#: sandbox keeps SNS's retry *count* semantics but not its 20-second delays.
MAX_HTTP_RETRIES = 5
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.5)
HTTP_TIMEOUT = 5.0
#: Platform names in a MessageStructure=json message, per application platform
#: (https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html)
PLATFORM_KEYS = {
    "GCM": "GCM",
    "FCM": "GCM",
    "APNS": "APNS",
    "APNS_SANDBOX": "APNS_SANDBOX",
    "ADM": "ADM",
    "BAIDU": "BAIDU",
    "MPNS": "MPNS",
    "WNS": "WNS",
    "MACOS": "MACOS",
    "MACOS_SANDBOX": "MACOS_SANDBOX",
}


class DeliveryFailed(Exception):
    """A delivery that did not succeed (goes to the subscription's DLQ, when it has one)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _now_iso() -> str:
    moment = datetime.now(tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ================================================================================================
# Signing (real signatures with a sandbox key; SignatureVersion 1 = SHA1 over SNS's canonical string)
# https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
# ================================================================================================
@cache
def _signing_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def _certificate(region: str) -> tuple[str, str]:
    """(cert URL, PEM) of the sandbox's signing certificate, registered with moto's SNS backend."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    from moto.sns.models import sns_backends

    key = _signing_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(tz=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_name = f"SimpleNotificationService-{uuid.uuid4().hex}.pem"
    sns_backends[DEFAULT_ACCOUNT][region]._message_public_keys[key_name] = pem
    return f"https://sns.{region}.amazonaws.com/{key_name}", pem.decode()


def _sign(fields: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    canonical = "".join(f"{k}\n{fields[k]}\n" for k in keys if fields.get(k) is not None)
    signature = _signing_key().sign(canonical.encode(), padding.PKCS1v15(), hashes.SHA1())
    return base64.b64encode(signature).decode()


class SnsDelivery:
    """The sandbox's SNS delivery: one per server process (``state.extras["sns"]``)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sns-http")
        self._pending = 0
        self._lock = threading.Lock()

    # -- bookkeeping ---------------------------------------------------------------------------------
    def busy(self) -> int:
        with self._lock:
            return self._pending

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            self._pending += 1

        def run() -> None:
            try:
                work()
            except Exception as exc:
                self.state.log(COMPONENT, "delivery crashed", error=repr(exc))
            finally:
                with self._lock:
                    self._pending -= 1

        self._pool.submit(run)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- envelopes -------------------------------------------------------------------------------------
    def unsubscribe_url(self, subscription_arn: str) -> str:
        return f"{self.state.endpoint_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe='')}"

    def notification(
        self,
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The JSON notification SNS posts to HTTP(S) / e-mail-json endpoints
        (https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html)."""
        region = subscription.topic.sns_backend.region_name
        cert_url, _ = _certificate(region)
        fields: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": subscription.topic.arn,
            "Message": message,
            "Timestamp": _now_iso(),
        }
        if subject:
            fields["Subject"] = subject
        fields["SignatureVersion"] = "1"
        fields["Signature"] = _sign(
            fields, ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        )
        fields["SigningCertURL"] = cert_url
        fields["UnsubscribeURL"] = self.unsubscribe_url(subscription.arn)
        if message_attributes:
            fields["MessageAttributes"] = {
                k: {"Type": v["Type"], "Value": v["Value"]} for k, v in message_attributes.items()
            }
        return fields

    def lambda_event(
        self,
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The event SNS invokes Lambda with (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html)."""
        envelope = self.notification(subscription, message, message_id, subject, message_attributes)
        return {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": subscription.arn,
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": message_id,
                        "TopicArn": subscription.topic.arn,
                        "Subject": subject or None,
                        "Message": message,
                        "Timestamp": envelope["Timestamp"],
                        "SignatureVersion": envelope["SignatureVersion"],
                        "Signature": envelope["Signature"],
                        "SigningCertUrl": envelope["SigningCertURL"],
                        "UnsubscribeUrl": envelope["UnsubscribeURL"],
                        "MessageAttributes": {
                            k: {"Type": v["Type"], "Value": v["Value"]}
                            for k, v in (message_attributes or {}).items()
                        },
                    },
                }
            ]
        }

    # -- the patched Subscription.publish ---------------------------------------------------------------
    def deliver(
        self,
        original: Callable[..., None],
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: dict[str, Any] | None,
        group_id: str | None,
        deduplication_id: str | None,
        message_structure: str | None,
    ) -> None:
        matcher = subscription._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        protocol = subscription.protocol
        try:
            if protocol == "sqs":
                self._sqs(
                    original,
                    subscription,
                    message,
                    message_id,
                    subject,
                    message_attributes,
                    group_id,
                    deduplication_id,
                    message_structure,
                )
                return
            if message_structure == "json":
                message = self._structured(subscription, message)
            if protocol == "lambda":
                self._lambda(subscription, message, message_id, subject, message_attributes)
            elif protocol in ("http", "https"):
                self._http_async(subscription, message, message_id, subject, message_attributes)
            elif protocol == "sms":
                self.sms(
                    subscription.topic.sns_backend,
                    subscription.endpoint,
                    message,
                    message_id,
                    message_attributes,
                    topic_arn=subscription.topic.arn,
                    subscription_arn=subscription.arn,
                )
            elif protocol in ("email", "email-json"):
                self._email(subscription, message, message_id, subject, message_attributes)
            elif protocol == "application":
                self.push(
                    subscription.topic.sns_backend,
                    subscription.endpoint,
                    message,
                    message_id,
                    topic_arn=subscription.topic.arn,
                    subscription_arn=subscription.arn,
                )
            else:
                raise DeliveryFailed(
                    "UnsupportedProtocol", f"protocol {protocol} is not delivered by the sandbox"
                )
        except DeliveryFailed as failure:
            self.failed(subscription, message, message_id, subject, message_attributes, failure)

    def _structured(self, subscription: Any, message: str) -> str:
        # MessageStructure=json: the protocol's key, else "default" (the API already validated "default").
        try:
            structured = json.loads(message)
        except ValueError as exc:
            raise DeliveryFailed("InvalidParameter", "Message is not valid JSON.") from exc
        key = subscription.protocol
        if subscription.protocol == "application":
            endpoint = subscription.topic.sns_backend.platform_endpoints.get(subscription.endpoint)
            platform = endpoint.application.platform if endpoint is not None else ""
            key = PLATFORM_KEYS.get(platform, platform)
        value = structured.get(key, structured.get("default"))
        if value is None:
            raise DeliveryFailed("InvalidParameter", f"Message does not contain {key} or default keys.")
        return value if isinstance(value, str) else json.dumps(value)

    def _sqs(
        self,
        original: Callable[..., None],
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: dict[str, Any] | None,
        group_id: str | None,
        deduplication_id: str | None,
        message_structure: str | None,
    ) -> None:
        from moto.sqs.exceptions import QueueDoesNotExist

        try:
            original(
                subscription,
                message,
                message_id,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
        except QueueDoesNotExist:
            self.failed(
                subscription,
                message,
                message_id,
                subject,
                message_attributes,
                DeliveryFailed("QueueDoesNotExist", "the subscribed queue does not exist"),
            )

    def _lambda(
        self,
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: dict[str, Any] | None,
    ) -> None:
        from . import _lambda_runtime

        event = self.lambda_event(subscription, message, message_id, subject, message_attributes)
        try:
            _lambda_runtime.invoke(self.state, subscription.endpoint, event, invocation_type="Event")
        except Exception as exc:
            raise DeliveryFailed(type(exc).__name__, "the Lambda function could not be invoked") from exc
        self.state.log(
            COMPONENT, "delivered", protocol="lambda", endpoint=subscription.endpoint, message_id=message_id
        )

    def _email(
        self,
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: dict[str, Any] | None,
    ) -> None:
        # E-mail deliveries use the Subject, else "AWS Notification Message"; email-json gets the JSON envelope.
        if subscription.protocol == "email-json":
            body = json.dumps(
                self.notification(subscription, message, message_id, subject, message_attributes)
            )
        else:
            body = message
        self.state.outbox.add(
            "sns-email",
            protocol=subscription.protocol,
            to=subscription.endpoint,
            subject=subject or "AWS Notification Message",
            message=body,
            message_type="Notification",
            message_id=message_id,
            topic_arn=subscription.topic.arn,
            subscription_arn=subscription.arn,
        )
        self.state.log(COMPONENT, "delivered", protocol=subscription.protocol, message_id=message_id)

    # -- SMS and push (also used by direct publishes) ----------------------------------------------------
    def sms(
        self,
        backend: Any,
        phone_number: str,
        message: str,
        message_id: str,
        message_attributes: Mapping[str, Any] | None,
        *,
        topic_arn: str | None = None,
        subscription_arn: str | None = None,
    ) -> None:
        if _opted_out(backend, phone_number):
            # SNS does not send to opted-out numbers (https://docs.aws.amazon.com/sns/latest/dg/sms_manage.html)
            self.state.log(COMPONENT, "sms skipped: number opted out", message_id=message_id)
            return
        attributes = message_attributes or {}
        defaults = backend.sms_attributes
        sms_type = (attributes.get("AWS.SNS.SMS.SMSType") or {}).get("Value") or defaults.get(
            "DefaultSMSType", "Promotional"
        )
        sender_id = (attributes.get("AWS.SNS.SMS.SenderID") or {}).get("Value") or defaults.get(
            "DefaultSenderID"
        )
        self.state.outbox.add(
            "sms",
            phone_number=phone_number,
            message=message,
            sms_type=sms_type,
            sender_id=sender_id,
            message_id=message_id,
            topic_arn=topic_arn,
            subscription_arn=subscription_arn,
        )
        self.state.log(COMPONENT, "delivered", protocol="sms", message_id=message_id)

    def push(
        self,
        backend: Any,
        endpoint_arn: str,
        message: str,
        message_id: str,
        *,
        topic_arn: str | None = None,
        subscription_arn: str | None = None,
    ) -> None:
        endpoint = backend.platform_endpoints.get(endpoint_arn)
        if endpoint is None:
            raise DeliveryFailed("EndpointNotFound", "the platform endpoint does not exist")
        if not endpoint.enabled:
            raise DeliveryFailed("EndpointDisabled", "the platform endpoint is disabled")
        endpoint.messages[message_id] = message
        self.state.outbox.add(
            "push",
            endpoint_arn=endpoint_arn,
            platform=endpoint.application.platform,
            application_arn=endpoint.application.arn,
            token=endpoint.token,
            message=message,
            message_id=message_id,
            topic_arn=topic_arn,
            subscription_arn=subscription_arn,
        )
        self.state.log(COMPONENT, "delivered", protocol="application", message_id=message_id)

    # -- HTTP(S) -------------------------------------------------------------------------------------------
    def _http_async(
        self,
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: dict[str, Any] | None,
    ) -> None:
        raw = _truthy(subscription.attributes.get("RawMessageDelivery"))
        if raw:
            body = message
        else:
            body = json.dumps(
                self.notification(subscription, message, message_id, subject, message_attributes)
            )
        headers = self._http_headers(subscription, "Notification", message_id, raw)
        retries = _http_retries(subscription)

        def work() -> None:
            try:
                self.post(
                    subscription.endpoint,
                    body,
                    headers,
                    retries,
                    message_type="Notification",
                    message_id=message_id,
                    topic_arn=subscription.topic.arn,
                    subscription_arn=subscription.arn,
                )
            except DeliveryFailed as failure:
                self.failed(subscription, message, message_id, subject, message_attributes, failure)

        self.submit(work)

    @staticmethod
    def _http_headers(subscription: Any, message_type: str, message_id: str, raw: bool) -> dict[str, str]:
        # https://docs.aws.amazon.com/sns/latest/dg/http-header.html
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "User-Agent": "Amazon Simple Notification Service Agent",
            "x-amz-sns-message-type": message_type,
            "x-amz-sns-message-id": message_id,
            "x-amz-sns-topic-arn": subscription.topic.arn,
        }
        if message_type != "SubscriptionConfirmation":
            headers["x-amz-sns-subscription-arn"] = subscription.arn
        if raw:
            headers["x-amz-sns-rawdelivery"] = "true"
        return headers

    def post(self, url: str, body: str, headers: Mapping[str, str], retries: int, **record: Any) -> int:
        """POST to a loopback URL with up to ``retries`` retries; records the outcome in the outbox and
        returns the status, or raises :class:`DeliveryFailed`."""
        if not _is_loopback(url):
            self.state.outbox.add(
                "http",
                url=url,
                status=None,
                attempts=0,
                error="not a loopback endpoint",
                headers=dict(headers),
                body=body,
                **record,
            )
            raise DeliveryFailed(
                "EndpointNotLoopback", "the sandbox delivers HTTP(S) only to loopback endpoints"
            )
        attempts = 0
        status: int | None = None
        error: str | None = None
        while True:
            attempts += 1
            request = urllib.request.Request(url, data=body.encode(), method="POST", headers=dict(headers))
            try:
                with _opener(self.state).open(request, timeout=HTTP_TIMEOUT) as response:
                    status, error = response.status, None
            except urllib.error.HTTPError as exc:
                status, error = exc.code, f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                status, error = None, type(exc).__name__
            # 2xx is success; 5xx, 429 and connection errors are retried, other 4xx are not:
            # https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html
            retryable = status is None or status == 429 or status >= 500
            if (status is not None and 200 <= status < 300) or not retryable or attempts > retries:
                break
            time.sleep(RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)])
        self.state.outbox.add(
            "http",
            url=url,
            status=status,
            attempts=attempts,
            error=error,
            headers=dict(headers),
            body=body,
            **record,
        )
        if status is None or not 200 <= status < 300:
            raise DeliveryFailed("DeliveryFailed", f"{error} after {attempts} attempt(s)")
        self.state.log(COMPONENT, "delivered", protocol="http", status=status, attempts=attempts)
        return status

    # -- confirmations -------------------------------------------------------------------------------------
    def confirmation(self, subscription: Any) -> None:
        """Record / send the confirmation request SNS sends to new e-mail and HTTP(S) subscriptions. The
        sandbox has already confirmed the subscription; the SubscribeURL points at the sandbox."""
        token = uuid.uuid4().hex * 2
        topic_arn = subscription.topic.arn
        subscribe_url = (
            f"{self.state.endpoint_url}/?Action=ConfirmSubscription&TopicArn="
            f"{quote(topic_arn, safe='')}&Token={token}"
        )
        text = (
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        )
        message_id = str(uuid.uuid4())
        if subscription.protocol in ("email", "email-json"):
            self.state.outbox.add(
                "sns-email",
                protocol=subscription.protocol,
                to=subscription.endpoint,
                subject="AWS Notification - Subscription Confirmation",
                message=text,
                message_type="SubscriptionConfirmation",
                subscribe_url=subscribe_url,
                message_id=message_id,
                topic_arn=topic_arn,
                subscription_arn=subscription.arn,
            )
            return
        region = subscription.topic.sns_backend.region_name
        cert_url, _ = _certificate(region)
        fields: dict[str, Any] = {
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id,
            "Token": token,
            "TopicArn": topic_arn,
            "Message": text,
            "SubscribeURL": subscribe_url,
            "Timestamp": _now_iso(),
            "SignatureVersion": "1",
        }
        fields["Signature"] = _sign(
            fields, ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
        )
        fields["SigningCertURL"] = cert_url
        headers = self._http_headers(subscription, "SubscriptionConfirmation", message_id, False)
        body = json.dumps(fields)

        def work() -> None:
            # the subscription stays confirmed; the outbox shows a failed request
            with contextlib.suppress(DeliveryFailed):
                self.post(
                    subscription.endpoint,
                    body,
                    headers,
                    _http_retries(subscription),
                    message_type="SubscriptionConfirmation",
                    message_id=message_id,
                    topic_arn=topic_arn,
                    subscription_arn=subscription.arn,
                )

        self.submit(work)

    # -- failures -------------------------------------------------------------------------------------------
    def failed(
        self,
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: Mapping[str, Any] | None,
        failure: DeliveryFailed,
    ) -> None:
        """A failed delivery: to the subscription's dead-letter queue when it has a RedrivePolicy
        (https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html), else dropped."""
        self.state.log(
            COMPONENT,
            "delivery failed",
            protocol=subscription.protocol,
            code=failure.code,
            message_id=message_id,
            subscription_arn=subscription.arn,
        )
        policy = subscription.attributes.get("RedrivePolicy")
        if not policy:
            return
        try:
            target = (
                json.loads(policy)["deadLetterTargetArn"]
                if isinstance(policy, str)
                else policy["deadLetterTargetArn"]
            )
        except (ValueError, KeyError, TypeError):
            self.state.log(COMPONENT, "invalid RedrivePolicy", subscription_arn=subscription.arn)
            return
        from moto.sqs.models import sqs_backends

        parts = str(target).split(":")
        if len(parts) < 6:
            return
        envelope = self.notification(subscription, message, message_id, subject, message_attributes)
        attributes = {
            "ErrorCode": {"DataType": "String", "StringValue": failure.code},
            "ErrorMessage": {"DataType": "String", "StringValue": str(failure)[:256]},
        }
        try:
            sqs_backends[parts[4]][parts[3]].send_message(
                parts[5], json.dumps(envelope), message_attributes=attributes
            )
        except Exception as exc:
            self.state.log(COMPONENT, "dead-letter queue unavailable", error=type(exc).__name__)
        else:
            self.state.log(COMPONENT, "sent to dead-letter queue", message_id=message_id)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect could lead off the machine


_LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _opener(state: SandboxState) -> urllib.request.OpenerDirector:
    """The loopback opener; its HTTPS also trusts the certificates added with :func:`trust_certificate`."""
    trusted = list(state.trusted_certificates)
    if not trusted:
        return _LOOPBACK_OPENER
    context = ssl.create_default_context()
    context.load_verify_locations(cadata="\n".join(trusted))
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context), _NoRedirect()
    )


def trust_certificate(state: SandboxState, pem: Any) -> int:
    """Trust ``pem`` (one or more PEM certificates) for HTTPS deliveries from now on; returns how many
    certificates are trusted. A ``ValueError`` if it is not a certificate."""
    if not isinstance(pem, str) or "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError("pem: a PEM certificate ('-----BEGIN CERTIFICATE-----...')")
    try:
        ssl.create_default_context().load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"pem: not a valid certificate ({type(exc).__name__})") from None
    if pem not in state.trusted_certificates:
        state.trusted_certificates.append(pem)
    return len(state.trusted_certificates)


def _is_loopback(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False  # a name other than localhost: never resolved, never contacted


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _http_retries(subscription: Any) -> int:
    """numRetries of the subscription's (else the topic's) delivery policy, capped; SNS's default is 3."""
    for source in (
        subscription.attributes.get("DeliveryPolicy"),
        getattr(subscription.topic, "delivery_policy", None),
    ):
        if not source:
            continue
        try:
            policy = json.loads(source) if isinstance(source, str) else source
            http = policy.get("http", policy)
            retry = http.get("defaultHealthyRetryPolicy") or http.get("healthyRetryPolicy") or {}
            if "numRetries" in retry:
                return max(0, min(int(retry["numRetries"]), MAX_HTTP_RETRIES))
        except (ValueError, TypeError, AttributeError):
            continue
    return 3


def _opted_out(backend: Any, phone_number: str) -> bool:
    return phone_number in backend.opt_out_numbers or bool(
        backend.check_if_phone_number_is_opted_out(phone_number)
    )


# ================================================================================================
# install / start / stop
# ================================================================================================
_INSTALL_LOCK = threading.Lock()
_DELIVERY: list[SnsDelivery | None] = [None]
_PATCHED: list[bool] = [False]


def _delivery() -> SnsDelivery:
    delivery = _DELIVERY[0]
    if delivery is None:
        raise RuntimeError("the SNS component is not installed")
    return delivery


def install(state: SandboxState) -> None:
    """Patch moto's SNS once (idempotent): per-protocol delivery, direct SMS / push publishes, automatic
    confirmation of e-mail and HTTP(S) subscriptions, filter policy scope."""
    with _INSTALL_LOCK:
        delivery = state.extras.get("sns")
        if not isinstance(delivery, SnsDelivery):
            delivery = SnsDelivery(state)
            state.extras["sns"] = delivery
        _DELIVERY[0] = delivery
        state.busy_checks["sns-deliveries"] = delivery.busy
        if _PATCHED[0]:
            return
        _PATCHED[0] = True
        from moto.sns.models import SNSBackend, Subscription
        from moto.sns.utils import FilterPolicyMatcher

        original_publish = Subscription.publish

        def publish(
            self: Any,
            message: str,
            message_id: str,
            subject: str | None = None,
            message_attributes: dict[str, Any] | None = None,
            group_id: str | None = None,
            deduplication_id: str | None = None,
            message_structure: str | None = None,
        ) -> None:
            _delivery().deliver(
                original_publish,
                self,
                message,
                message_id,
                subject,
                message_attributes,
                group_id,
                deduplication_id,
                message_structure,
            )

        Subscription.publish = publish  # type: ignore[method-assign]

        original_backend_publish = SNSBackend.publish

        def backend_publish(
            self: Any,
            message: str,
            arn: str | None,
            phone_number: str | None = None,
            subject: str | None = None,
            message_attributes: dict[str, Any] | None = None,
            group_id: str | None = None,
            deduplication_id: str | None = None,
            message_structure: str | None = None,
        ) -> str:
            if arn and ":endpoint/" in arn and not phone_number:
                return _publish_to_endpoint(self, arn, message, message_structure)
            message_id: str = original_backend_publish(
                self,
                message,
                arn,
                phone_number=phone_number,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
            if phone_number:
                _delivery().sms(self, phone_number, message, message_id, message_attributes)
            return message_id

        SNSBackend.publish = backend_publish  # type: ignore[method-assign]

        original_subscribe = SNSBackend.subscribe

        def subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
            existing = self._find_subscription(topic_arn, endpoint, protocol)
            subscription = original_subscribe(self, topic_arn, endpoint, protocol)
            if existing is None and protocol in ("email", "email-json", "http", "https"):
                subscription.confirmed = True
                subscription.attributes["PendingConfirmation"] = False
                _delivery().confirmation(subscription)
            return subscription

        SNSBackend.subscribe = subscribe  # type: ignore[method-assign]

        original_set_attributes = SNSBackend.set_subscription_attributes

        def set_subscription_attributes(self: Any, arn: str, name: str, value: Any) -> None:
            original_set_attributes(self, arn, name, value)
            if name == "FilterPolicyScope":
                # moto builds the matcher when FilterPolicy is set; rebuild it for a scope set afterwards.
                subscription = self.subscriptions.get(arn)
                if subscription is not None and subscription._filter_policy:
                    self._validate_filter_policy(subscription._filter_policy, scope=value)
                    subscription._filter_policy_matcher = FilterPolicyMatcher(
                        subscription._filter_policy, value
                    )

        SNSBackend.set_subscription_attributes = set_subscription_attributes  # type: ignore[method-assign]
        state.log(COMPONENT, "installed")


def _publish_to_endpoint(backend: Any, arn: str, message: str, message_structure: str | None) -> str:
    from moto.sns.exceptions import InvalidParameterValue, SnsEndpointDisabled

    endpoint = backend.get_endpoint(arn)  # raises NotFound as SNS does
    if not endpoint.enabled:
        raise SnsEndpointDisabled("Endpoint is disabled")
    if message_structure == "json":
        try:
            structured = json.loads(message)
        except ValueError:
            raise InvalidParameterValue("Message is not valid JSON.") from None
        platform = endpoint.application.platform
        value = structured.get(PLATFORM_KEYS.get(platform, platform), structured.get("default"))
        if value is None:
            raise InvalidParameterValue("Message does not contain default key.")
        message = value if isinstance(value, str) else json.dumps(value)
    message_id = str(uuid.uuid4())
    _delivery().push(backend, arn, message, message_id)
    return message_id


def stop(state: SandboxState) -> None:
    delivery = state.extras.get("sns")
    if isinstance(delivery, SnsDelivery):
        delivery.shutdown()
