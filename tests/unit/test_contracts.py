"""One contract (lambda_handlers.contracts): what the constructs accept at synth time, the handlers accept at
run time - addresses, environment variables, defaults - and the module itself needs nothing but the stdlib."""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Template
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lambda_handlers import contracts
from lambda_handlers.bounce_processor import config as bounce_config
from lambda_handlers.common import config as common_config
from lambda_handlers.common.errors import ConfigError, PermanentError
from lambda_handlers.common.order_event import parse_order_placed
from lambda_handlers.order_email_sender import config as sender_config
from lambda_handlers.order_email_sender.logic import subject_line
from lambda_handlers.order_writer import config as writer_config
from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    NotificationConfigError,
    OrderConfirmationPipeline,
    SenderIdentity,
)
from notification_constructs.testing._ses import render_template

# --- generated addresses ----------------------------------------------------------------------------
_ATOM = "abcxyzABCXYZ0189!#$%&'*+/=?^_`{|}~-"
_TRICKY = '.@<> "\t\n\r\x00\x7f(),;:[]\\ñ'
_local_parts = st.text(alphabet=_ATOM + ".", max_size=70)
_labels = st.text(alphabet="abcxyzAXZ0189-", max_size=65)
_domains = st.lists(_labels, min_size=1, max_size=4).map(".".join)


@st.composite
def _mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    value = draw(base)
    at = draw(st.integers(0, len(value)))
    return value[:at] + draw(st.sampled_from(_TRICKY + "0")) + value[at:]


ADDRESSES = st.one_of(
    st.emails(),
    st.builds(lambda local, domain: f"{local}@{domain}", _local_parts, _domains),
    _mutated(st.emails()),
    st.text(alphabet=_ATOM + _TRICKY, max_size=60),
)
DISPLAY_NAMES = st.text(alphabet="Shop Inc.,\"'<>\n\x00ñ-", max_size=20)
FROM_VALUES = st.one_of(
    ADDRESSES,
    st.builds(lambda name, address: f"{name} <{address}>", DISPLAY_NAMES, ADDRESSES),
    st.builds(lambda name, address: f" {name}<{address}> ", DISPLAY_NAMES, _mutated(st.emails())),
)
DRIFTED = ("a.@example.com", "orders@example.c0m")
"""Accepted by the constructs' old validator, rejected by the handlers: synth passed, every send failed."""


# --- the synth-time side: the real constructs, forced to fail fast on an unrelated prop ---------------
class _Synth:
    """Instantiates constructs in one stack; an extra always-invalid prop makes each one raise right after
    validation (before creating children), so one example costs a few jsii calls, not a synth."""

    def __init__(self) -> None:
        self.stack = Stack(App(), "Contracts")
        self.config = EmailConfigurationSet(self.stack, "Config", configuration_set_name="orders")
        self.other_sender = SenderIdentity(self.stack, "Sender", email_address="someone@elsewhere.example")
        self.table = dynamodb.Table(
            self.stack,
            "Suppression",
            partition_key=dynamodb.Attribute(name="address", type=dynamodb.AttributeType.STRING),
        )
        self._ids = itertools.count()

    def _problems(self, build: Any) -> list[str]:
        try:
            build(f"C{next(self._ids)}")
        except NotificationConfigError as error:
            return error.problems
        raise AssertionError("the forced problem did not raise")

    def accepts_from_address(self, value: str) -> bool:
        problems = self._problems(
            lambda id: OrderConfirmationPipeline(
                self.stack,
                id,
                sender=self.other_sender,
                configuration_set=self.config,
                from_address=value,
                suppression_table=self.table,
                max_send_concurrency=1,  # forced problem
            )
        )
        return not any("is not a valid e-mail address" in p and "from_address" in p for p in problems)

    def accepts_identity_address(self, value: str) -> bool:
        problems = self._problems(
            lambda id: SenderIdentity(
                self.stack,
                id,
                email_address=value,
                domain="example.com",  # forced problem: "exactly one of"
                dmarc_report_address=value,
            )
        )
        email_ok = not any(p.endswith(f"email_address {value!r} is not valid") for p in problems)
        dmarc_ok = not any("dmarc_report_address" in p and "not a valid e-mail" in p for p in problems)
        assert email_ok == dmarc_ok, problems
        return email_ok

    def accepts_alert_email(self, value: str) -> bool:
        problems = self._problems(
            lambda id: BounceHandlingPipeline(
                self.stack,
                id,
                configuration_set=self.config,
                alert_email=value,
                soft_bounce_threshold=0,  # forced problem
            )
        )
        return not any("alert_email" in p for p in problems)

    def accepts_domain(self, value: str) -> bool:
        problems = self._problems(
            lambda id: SenderIdentity(self.stack, id, domain=value, email_address="a@example.com")
        )
        return not any(p.endswith(f"domain {value!r} is not a valid domain name") for p in problems)


@pytest.fixture(scope="module")
def synth() -> _Synth:
    return _Synth()


# --- the run-time side: the handlers' own entry points -----------------------------------------------
SENDER_ENV = {
    contracts.CONFIGURATION_SET_NAME_ENV: "orders",
    contracts.SUPPRESSION_TABLE_NAME_ENV: "suppression",
    contracts.IDEMPOTENCY_TABLE_NAME_ENV: "idempotency",
}


def runtime_accepts_sender(value: str) -> bool:
    try:
        sender_config.load_config({**SENDER_ENV, contracts.SENDER_ADDRESS_ENV: value})
    except ConfigError:
        return False
    return True


def order_message(email: str) -> dict[str, Any]:
    return {
        "schema_version": "1.0",
        "event_type": contracts.ORDER_PLACED_EVENT_TYPE,
        "order_id": "ord-1",
        "placed_at": "2024-05-01T12:30:00Z",
        "customer": {"email": email, "name": "Jane"},
        "items": [{"sku": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "9.99"}],
        "currency": "EUR",
        "total": "19.98",
    }


def runtime_accepts_recipient(value: str) -> bool:
    try:
        parse_order_placed(order_message(value))
    except PermanentError:
        return False
    return True


# --- addresses ----------------------------------------------------------------------------------------
_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(address=ADDRESSES)
@example(address=DRIFTED[0])
@example(address=DRIFTED[1])
@example(address="orders@example.com")
@example(address=".a@example.com")
@example(address="a..b@example.com")
@example(address="a@example.com.")
@example(address="a@-example.com")
@example(address="a@example.xn--p1ai")
@example(address="a" * 64 + "@example.com")
@example(address="a" * 65 + "@example.com")
def test_an_address_accepted_at_synth_is_accepted_at_run_time_and_the_reverse(
    synth: _Synth, address: str
) -> None:
    # GIVEN any string offered as an address
    # WHEN the constructs validate it (identity, DMARC reports, alert e-mail) and the handlers do
    at_run_time = runtime_accepts_recipient(address)
    # THEN every synth-time check agrees with the run-time one, both ways
    assert at_run_time == contracts.is_valid_email(address)
    assert synth.accepts_identity_address(address) == at_run_time
    assert synth.accepts_alert_email(address) == at_run_time


@_SETTINGS
@given(value=FROM_VALUES)
@example(value=DRIFTED[0])
@example(value=DRIFTED[1])
@example(value="Shop <orders@example.com>")
@example(value='"Shop, Inc." <orders@example.com>')
@example(value="Shop <orders@example.com")
@example(value="orders@example.com (Shop)")
@example(value="a@example.com, b@example.com")
@example(value="Shop\n <orders@example.com>")
@example(value="  orders@example.com  ")
def test_a_from_address_accepted_at_synth_is_accepted_by_the_sender_and_the_reverse(
    synth: _Synth, value: str
) -> None:
    # GIVEN any from_address value
    # WHEN OrderConfirmationPipeline validates it and the sender's configuration reads it as SENDER_ADDRESS
    # THEN both accept it or both reject it
    assert synth.accepts_from_address(value) == runtime_accepts_sender(value)


@_SETTINGS
@given(domain=st.one_of(_domains, _mutated(st.emails().map(lambda a: a.split("@")[1]))))
@example(domain="example.c0m")
@example(domain="example.com")
@example(domain="localhost")
@example(domain="example.com.")
def test_an_identity_domain_accepted_at_synth_yields_addresses_the_handlers_accept(
    synth: _Synth, domain: str
) -> None:
    # GIVEN any domain for a SenderIdentity
    # WHEN the construct validates it
    # THEN it is accepted exactly when an address at that domain passes the run-time check
    assert synth.accepts_domain(domain) == runtime_accepts_recipient(f"orders@{domain}")


@pytest.mark.parametrize("address", DRIFTED)
def test_fails_if_a_from_address_the_sender_would_reject_is_synthesized(synth: _Synth, address: str) -> None:
    # GIVEN an address the old synth check accepted and the handler rejects
    stack = Stack(App(), "Drift")
    config = EmailConfigurationSet(stack, "Config")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    table = dynamodb.Table(
        stack, "T", partition_key=dynamodb.Attribute(name="address", type=dynamodb.AttributeType.STRING)
    )
    # WHEN / THEN the pipeline fails at synth time, naming the prop and the value
    with pytest.raises(NotificationConfigError, match=rf"from_address '{address}' is not a valid e-mail"):
        OrderConfirmationPipeline(
            stack,
            "Orders",
            sender=sender,
            configuration_set=config,
            from_address=address,
            suppression_table=table,
        )
    # AND the sender itself rejects it too
    with pytest.raises(ConfigError, match="SENDER_ADDRESS must be an e-mail address"):
        sender_config.load_config({**SENDER_ENV, contracts.SENDER_ADDRESS_ENV: address})


def test_tokens_are_not_validated_at_synth_time() -> None:
    # GIVEN addresses only known at deploy time
    stack = Stack(App(), "Tokens")
    config = EmailConfigurationSet(stack, "Config")
    token = config.configuration_set_name  # any unresolved string token
    # WHEN the constructs receive them THEN they are not rejected
    SenderIdentity(stack, "Sender", email_address=token)
    BounceHandlingPipeline(stack, "Bounces", configuration_set=config, alert_email=f"{token}@example.com")


# --- environment variables and defaults ----------------------------------------------------------------
class RecordingEnviron(Mapping[str, str]):
    """An environment that records every variable the code under test looks up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


LOADERS = {
    "lambda_handlers.order_writer.handler.handler": writer_config.load_config,
    "lambda_handlers.order_email_sender.handler.handler": sender_config.load_config,
    "lambda_handlers.bounce_processor.handler.handler": bounce_config.load_config,
}
OPTIONAL_UNSET = {contracts.IDEMPOTENCY_TTL_SECONDS_ENV, contracts.SEND_RATE_PER_SECOND_ENV}
"""Variables a handler reads that the pipelines leave to the handler's default (the order sender's pacing is
set only with ``max_send_rate``)."""


def _deployed_value(name: str, value: Any) -> str:
    """The value a synthesized variable has at run time (tokens become plausible resolved values)."""
    if isinstance(value, str):
        return value
    if name.endswith("_ARN"):
        return "arn:aws:sns:eu-west-1:123456789012:alerts"
    if name.endswith("_URL"):
        return "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"
    return f"resolved-{name.lower()}"


@pytest.fixture(scope="module")
def functions() -> list[dict[str, Any]]:
    stack = Stack(App(), "Env")
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="orders")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=config)
    common = {"sender": sender, "configuration_set": config, "suppression_table": bounces.suppression_table}
    OrderConfirmationPipeline(stack, "Orders", from_address="Shop <orders@example.com>", **common)
    OrderConfirmationPipeline(
        stack,
        "Plain",
        from_address="orders@example.com",
        use_template=False,
        filter_on_message_body=True,
        **common,
    )
    resources = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    return [r["Properties"] for r in resources.values() if r["Properties"].get("Handler") in LOADERS]


def test_every_variable_the_constructs_set_is_one_the_handler_reads_and_none_is_missing(
    functions: list[dict[str, Any]],
) -> None:
    # GIVEN the functions of both pipelines (with and without a template)
    assert len(functions) == 5  # two writers, two senders, one bounce processor
    for function in functions:
        variables = function["Environment"]["Variables"]
        environ = RecordingEnviron({name: _deployed_value(name, v) for name, v in variables.items()})
        # WHEN the handler loads its configuration from the deployed environment
        LOADERS[function["Handler"]](environ)
        namespace = common_config.metrics_namespace(environ)
        # THEN it succeeds, every variable set is read (by the handler or by Powertools) ...
        unread = set(variables) - environ.read - set(contracts.POWERTOOLS_ENV)
        assert not unread, f"{function['Handler']}: set but never read: {sorted(unread)}"
        # ... every variable read but not set has a default
        assert environ.read - set(variables) <= OPTIONAL_UNSET | {contracts.TEMPLATE_NAME_ENV}
        assert namespace == contracts.DEFAULT_METRICS_NAMESPACE
        assert contracts.DEAD_LETTER_QUEUE_URL_ENV in variables


def test_the_bounce_defaults_reach_the_handler_unchanged(functions: list[dict[str, Any]]) -> None:
    # GIVEN the bounce processor as synthesized with default props
    (function,) = [f for f in functions if f["Handler"].startswith("lambda_handlers.bounce_processor")]
    variables = function["Environment"]["Variables"]
    # WHEN its configuration is loaded
    loaded = bounce_config.load_config({k: _deployed_value(k, v) for k, v in variables.items()})
    # THEN it holds the contract's defaults
    assert loaded.soft_bounce_threshold == contracts.DEFAULT_SOFT_BOUNCE_THRESHOLD
    assert loaded.soft_bounce_window_hours == contracts.DEFAULT_SOFT_BOUNCE_WINDOW_HOURS
    # AND the construct's defaults are the handler's own: leaving the variables out changes nothing
    unset = {contracts.SOFT_BOUNCE_THRESHOLD_ENV, contracts.SOFT_BOUNCE_WINDOW_HOURS_ENV}
    assert loaded == bounce_config.load_config(
        {k: _deployed_value(k, v) for k, v in variables.items() if k not in unset}
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"soft_bounce_window": Duration.days(366)},
            r"soft_bounce_window: a whole number of hours from 1 to 8760",
        ),
        ({"soft_bounce_threshold": 101}, r"soft_bounce_threshold 101: must be 1-100"),
    ],
)
def test_fails_if_a_soft_bounce_setting_is_outside_what_the_handler_accepts(
    props: dict[str, Any], message: str
) -> None:
    # GIVEN a soft-bounce setting the handler's configuration would refuse (it would fail every invocation)
    stack = Stack(App(), "Bounds")
    config = EmailConfigurationSet(stack, "Config")
    # WHEN / THEN synth fails with the contract's bounds
    with pytest.raises(NotificationConfigError, match=message):
        BounceHandlingPipeline(stack, "Bounces", configuration_set=config, **props)
    # AND the handler agrees those values are out of range
    name, value = (
        (contracts.SOFT_BOUNCE_WINDOW_HOURS_ENV, "8784")
        if "soft_bounce_window" in props
        else (contracts.SOFT_BOUNCE_THRESHOLD_ENV, "101")
    )
    base = {contracts.SUPPRESSION_TABLE_NAME_ENV: "s", contracts.SOFT_BOUNCE_TABLE_NAME_ENV: "b"}
    with pytest.raises(ConfigError, match=f"{name} must be between"):
        bounce_config.load_config({**base, name: value})


def test_the_template_subject_renders_like_the_subject_of_a_send_without_template() -> None:
    # GIVEN the contract's default subject (the template's subject part) and an order
    order = parse_order_placed(order_message("jane@example.com"))
    # WHEN SES renders the template subject with the order's template data
    rendered = render_template(contracts.DEFAULT_SUBJECT, {"order_id": order.order_id})
    # THEN it is the subject the sender uses without a template
    assert rendered == subject_line(order)


# --- the module itself ------------------------------------------------------------------------------
def test_contracts_imports_nothing_outside_the_standard_library() -> None:
    # GIVEN a fresh interpreter in which boto3, botocore, Powertools and aws_cdk cannot be imported
    script = textwrap.dedent(
        """
        import json, sys

        class Blocked:
            BLOCKED = ("boto3", "botocore", "aws_lambda_powertools", "aws_cdk", "constructs", "jsii")

            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in self.BLOCKED:
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Blocked())
        before = set(sys.modules)
        import lambda_handlers.contracts
        loaded = {m.split(".")[0] for m in set(sys.modules) - before}
        print(json.dumps(sorted(loaded - set(sys.stdlib_module_names))))
        """
    )
    # WHEN it imports lambda_handlers.contracts
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    # THEN the import succeeds and only the standard library (and the package itself) was loaded
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["lambda_handlers"]


def test_no_module_retypes_a_contract_value() -> None:
    # GIVEN the contract's names, and its values that cannot mean anything else (variable names, metric
    # names, defaults, template keys)
    names = {name for name in vars(contracts) if name.isupper() and not name.startswith("_")}
    owned = {
        value: name
        for name, value in vars(contracts).items()
        if name in names
        and isinstance(value, str | tuple)
        and (name.endswith("_ENV") or name.startswith(("METRIC_", "DEFAULT_", "TEMPLATE_")))
    }
    # WHEN the module-level constants of both packages are inspected
    offenders = []
    for root in ("lambda_handlers", "notification_constructs"):
        for path in sorted(Path(root).rglob("*.py")):
            if path.name == "contracts.py" or "testing" in path.parts:
                continue
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    retyped = [t.id for t in targets if isinstance(t, ast.Name) and t.id in names]
                    offenders += [f"{path}:{node.lineno} redefines contracts.{name}" for name in retyped]
                    try:
                        value = ast.literal_eval(node.value)
                    except ValueError:
                        continue
                    if isinstance(value, str | tuple) and value in owned:
                        offenders.append(f"{path}:{node.lineno} re-types contracts.{owned[value]}")
    # THEN none of them copies a contract value (they import it)
    assert not offenders


def test_the_constructs_read_the_handlers_only_through_the_contract() -> None:
    # GIVEN the construct modules (the sandbox in testing/ runs the handlers and may import them)
    paths = [p for p in sorted(Path("notification_constructs").rglob("*.py")) if "testing" not in p.parts]
    # WHEN their imports of lambda_handlers are collected
    imported = {
        (str(path), node.module)
        for path in paths
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lambda_handlers")
    }
    # THEN they come from the contract (or the package root, for its names) and nothing else
    assert imported, "the constructs are expected to import the contract"
    assert {module for _, module in imported} <= {"lambda_handlers", "lambda_handlers.contracts"}
