"""Synth-time validation: collect every problem of a construct, then fail once with all of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aws_cdk import Acknowledgment, Token, Validations
from constructs import Construct

from lambda_handlers import contracts

__all__ = ["NotificationConfigError", "Problems"]


class NotificationConfigError(ValueError):
    """Raised at synth time when a construct is misconfigured.

    ``problems`` lists every problem found, each prefixed with the construct path,
    so one synth run reports everything there is to fix.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} configuration problem(s):\n{lines}")


# Every token a string can carry is encoded as ``${Token[...]}`` ("Tokens and the AWS CDK":
# https://docs.aws.amazon.com/cdk/v2/guide/tokens.html - aws-cdk-lib's ``Token.isUnresolved`` looks for
# exactly that marker in a string), so a string without it is resolved without asking jsii (one round trip
# to the Node.js process per check, and the constructs check dozens of strings).
_STRING_TOKEN_MARKER = "${Token["


def is_token(value: Any) -> bool:
    """True when ``value`` (a str, number or Duration) is only known at deploy time."""
    if isinstance(value, str) and _STRING_TOKEN_MARKER not in value:
        return False
    return bool(Token.is_unresolved(value))


def is_valid_email(value: str) -> bool:
    """The handlers' own rule (:func:`lambda_handlers.contracts.is_valid_email`), so an address accepted at
    synth time is accepted at run time; a token (known only at deploy time) is not checked."""
    return is_token(value) or contracts.is_valid_email(value)


def is_valid_domain(value: str) -> bool:
    """:func:`lambda_handlers.contracts.is_valid_domain` (the domain part of a valid address); a token
    is not checked."""
    return is_token(value) or contracts.is_valid_domain(value)


def child_path(scope: Construct, id: str) -> str:
    """The construct path a child ``id`` of ``scope`` will have (for checks that run before the child exists,
    such as a subclass of an aws-cdk-lib class validating its props before ``super().__init__``)."""
    return f"{scope.node.path}/{id}" if scope.node.path else id


class Problems:
    """Collects problems for one construct; ``raise_if_any`` raises a single NotificationConfigError.

    ``Problems(scope)`` reports for ``scope`` itself; ``Problems(scope, id)`` for its child ``id`` not created
    yet (see :func:`child_path`).
    """

    def __init__(self, scope: Construct, id: str | None = None) -> None:
        # The path is read (two jsii round trips) only when there is a problem to report.
        self._scope = scope
        self._id = id
        self._path: str | None = None
        self._items: list[str] = []

    def add(self, message: str) -> None:
        if self._path is None:
            self._path = self._scope.node.path if self._id is None else child_path(self._scope, self._id)
        self._items.append(f"[{self._path}] {message}")

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.add(message)

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        if self._items:
            raise NotificationConfigError(self._items)


# --- SNS filter policy limits -------------------------------------------------------------------------
# AWS: at most 5 attribute names (keys) per filter policy and at most 150 combinations of values
# (the product of the number of values of each key). Nested keys of a message-body policy count by leaf.
MAX_FILTER_POLICY_KEYS = 5
MAX_FILTER_POLICY_COMBINATIONS = 150


def filter_policy_stats(policy: Mapping[str, Any]) -> tuple[int, int]:
    """Return (number of keys, number of value combinations) of a resolved filter policy document.

    ``policy`` is the JSON form SNS receives: ``{"key": [values...]}``, nested dicts for message-body
    policies. ``$or`` branches add their combinations.
    """
    keys = 0
    combinations = 1
    for key, value in policy.items():
        if key == "$or" and isinstance(value, list):
            branch_keys, branch_total = 0, 0
            for branch in value:
                if isinstance(branch, Mapping):
                    k, c = filter_policy_stats(branch)
                    branch_keys = max(branch_keys, k)
                    branch_total += c
            keys += branch_keys
            combinations *= max(branch_total, 1)
        elif isinstance(value, Mapping):
            k, c = filter_policy_stats(value)
            keys += k
            combinations *= c
        else:
            keys += 1
            combinations *= max(len(value), 1) if isinstance(value, list) else 1
    return keys, combinations


def acknowledge(scope: Construct, rule_id: str, reason: str) -> None:
    """Acknowledge a cdk-nag (or other validation plugin) finding on ``scope``, with its written reason."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_all(scope: Construct, reasons: Mapping[str, str]) -> None:
    """:func:`acknowledge` each rule id of ``reasons`` (rule id -> reason) on ``scope``, in one call
    (``Validations.acknowledge`` takes any number: two jsii round trips in all instead of two per rule)."""
    if reasons:
        Validations.of(scope).acknowledge(
            *(Acknowledgment(id=rule_id, reason=reason) for rule_id, reason in reasons.items())
        )
