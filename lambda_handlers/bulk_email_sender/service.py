"""Act: one SQS record = one page of a campaign.

1. queue the next page first (``ListContacts`` ``NextToken``), so a large campaign spreads over
   invocations and each stays well inside its timeout (a page marker in the campaign table keeps a
   redelivered page from queueing its successor twice);
2. keep the page's subscribed, valid addresses (opt-outs are never mailed), drop the suppressed ones
   (``BatchGetItem`` on the suppression table);
3. per chunk (<= 50, <= the token bucket's burst): claim each address in the campaign table (conditional
   write: a redelivered or concurrent page never mails anyone twice), wait for the token bucket, send,
   then record every per-destination result.

Outcomes (:class:`~lambda_handlers.bulk_email_sender.logic.Outcome`): ``SENT`` / ``FAILED`` are recorded
for good; ``RETRY`` releases the claim, ``UNCERTAIN`` keeps it until it expires; either makes the record
fail as transient at the end of the page, so SQS delivers the page again and only those destinations are
sent. ``ABORT`` (no template, unverified MAIL FROM ...) releases the chunk and dead-letters the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambda_handlers.bulk_email_sender.config import BulkSenderConfig, load_config
from lambda_handlers.bulk_email_sender.gateways import (
    SEND_RESERVE_SECONDS,
    CampaignSender,
    Claim,
    DynamoDbCampaignTable,
    SesContactList,
    SesV2BulkSender,
    SesV2ListManagedSender,
    SqsPageQueue,
)
from lambda_handlers.bulk_email_sender.logic import (
    CampaignPage,
    EntryResult,
    Outcome,
    chunks,
    parse_record_body,
    select_recipients,
)
from lambda_handlers.common.addresses import normalize_address
from lambda_handlers.common.aws import MIN_RECORD_SECONDS, DeadlineExceededError, deadline
from lambda_handlers.common.errors import PermanentError, TransientError
from lambda_handlers.common.send_rate import TokenBucket
from lambda_handlers.common.shell import Counter, RecordService, SqsRecordInfo, dead_letter_forwarder
from lambda_handlers.common.suppression import DynamoDbSuppressionTable
from lambda_handlers.contracts import (
    METRIC_CAMPAIGN_ALREADY_HANDLED,
    METRIC_CAMPAIGN_EMAIL_SENT,
    METRIC_CAMPAIGN_PAGE_QUEUED,
    METRIC_CAMPAIGN_RECIPIENT_SUPPRESSED,
    METRIC_CAMPAIGN_SEND_FAILED,
    METRIC_CAMPAIGN_SEND_RETRIED,
)

if TYPE_CHECKING:  # Powertools is imported by the shell first (common/powertools.py)
    from aws_lambda_powertools import Logger

DEFAULT_CLAIM_SECONDS = 900.0
"""How long a claim lives outside an invocation deadline (tests); inside one: the time left + a margin."""
CLAIM_MARGIN_SECONDS = 60.0


class CampaignAbortedError(PermanentError):
    """SES refuses every message of the campaign (missing template, unverified domain, ...)."""


@dataclass
class PageSummary:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    suppressed: int = 0
    already_handled: int = 0
    busy: int = 0
    opted_out: int = 0
    invalid: int = 0
    aborted: str | None = None


class BulkEmailService(RecordService):
    def __init__(
        self,
        config: BulkSenderConfig,
        logger: Logger,
        count: Counter,
        *,
        contacts: SesContactList | None = None,
        suppressions: DynamoDbSuppressionTable | None = None,
        campaigns: DynamoDbCampaignTable | None = None,
        pages: SqsPageQueue | None = None,
        sender: CampaignSender | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.logger = logger
        self.count = count
        self.contacts = contacts or SesContactList(config.campaign.contact_list_name)
        self.suppressions = suppressions or DynamoDbSuppressionTable(table_name=config.suppression_table_name)
        self.campaigns = campaigns or DynamoDbCampaignTable(
            table_name=config.campaign_table_name, ttl_days=config.record_ttl_days
        )
        self.pages = pages or SqsPageQueue(config.campaign_queue_url)
        self.sender: CampaignSender = sender or (
            SesV2ListManagedSender(config.campaign)
            if config.one_click_unsubscribe
            else SesV2BulkSender(config.campaign)
        )
        self.dead_letters = dead_letter_forwarder(config.dead_letter_queue_url)
        self.clock = clock
        self.sleep = sleep
        # One bucket per execution environment: it outlives invocations, so back-to-back pages share it.
        self.bucket = TokenBucket(config.send_rate_per_second)

    def process(self, record: SqsRecordInfo) -> None:
        deadline.require(MIN_RECORD_SECONDS, "a record")
        page = parse_record_body(record.body)
        topic_default = self.contacts.topic_default(page.topic)
        contacts, next_token = self.contacts.page(page.topic, page.page_token, self.config.contacts_page_size)
        if next_token is not None:
            self._queue_next(page, next_token)
        recipients = select_recipients(contacts, page.topic, topic_default)
        summary = PageSummary(opted_out=recipients.opted_out, invalid=recipients.invalid)
        suppressed = self.suppressions.suppressed(recipients.addresses) if recipients.addresses else set()
        to_send = [a for a in recipients.addresses if normalize_address(a) not in suppressed]
        summary.suppressed = len(recipients.addresses) - len(to_send)
        for _ in range(summary.suppressed):
            self.count(METRIC_CAMPAIGN_RECIPIENT_SUPPRESSED)
        for chunk in chunks(to_send, self.bucket.capacity):
            self._send_chunk(page, chunk, summary)
            if summary.aborted:
                break
        self._log(record, page, summary)
        if summary.aborted:
            raise CampaignAbortedError(f"SES refused the campaign's messages ({summary.aborted})")
        if summary.retried or summary.busy:
            raise TransientError(
                f"{summary.retried + summary.busy} destinations of the page were not sent yet; retrying",
                code="CampaignPartialFailure",
            )

    def _queue_next(self, page: CampaignPage, token: str) -> None:
        following = page.next_page(token)
        if self.campaigns.page_queued(page.campaign_id, following.page_number):
            return
        self.pages.enqueue(following)
        self.campaigns.mark_page_queued(page.campaign_id, following.page_number)
        self.count(METRIC_CAMPAIGN_PAGE_QUEUED)

    def _claim_seconds(self) -> float:
        left = deadline.seconds_left()
        return DEFAULT_CLAIM_SECONDS if left is None else max(left, 0.0) + CLAIM_MARGIN_SECONDS

    def _send_chunk(self, page: CampaignPage, chunk: tuple[str, ...], summary: PageSummary) -> None:
        claimed: list[str] = []
        for address in chunk:
            claim = self.campaigns.claim(page.campaign_id, address, seconds=self._claim_seconds())
            if claim is Claim.CLAIMED:
                claimed.append(address)
            elif claim is Claim.DONE:
                summary.already_handled += 1
                self.count(METRIC_CAMPAIGN_ALREADY_HANDLED)
            else:
                summary.busy += 1
        if not claimed:
            return
        try:
            self._wait_for_tokens(len(claimed))
        except DeadlineExceededError:
            for address in claimed:
                self.campaigns.release(page.campaign_id, address)
            raise
        for result in self.sender.send(page, claimed):
            self._apply(page, result, summary)

    def _wait_for_tokens(self, n: int) -> None:
        wait = self.bucket.delay(n, self.clock())
        deadline.require(wait + SEND_RESERVE_SECONDS + MIN_RECORD_SECONDS, "a send")
        if wait > 0:
            self.sleep(wait)
        self.bucket.take(n, self.clock())

    def _apply(self, page: CampaignPage, result: EntryResult, summary: PageSummary) -> None:
        outcome = result.outcome
        if outcome is Outcome.SENT:
            self.campaigns.record(page.campaign_id, result, sent=True)
            summary.sent += 1
            self.count(METRIC_CAMPAIGN_EMAIL_SENT)
        elif outcome is Outcome.FAILED:
            self.campaigns.record(page.campaign_id, result, sent=False)
            summary.failed += 1
            self.count(METRIC_CAMPAIGN_SEND_FAILED)
        elif outcome is Outcome.UNCERTAIN:
            summary.retried += 1  # the claim expires, then a redelivery sends it
            self.count(METRIC_CAMPAIGN_SEND_RETRIED)
        else:  # RETRY or ABORT: SES took nothing
            self.campaigns.release(page.campaign_id, result.address)
            if outcome is Outcome.ABORT:
                summary.aborted = summary.aborted or result.status
            else:
                summary.retried += 1
                self.count(METRIC_CAMPAIGN_SEND_RETRIED)

    def _log(self, record: SqsRecordInfo, page: CampaignPage, summary: PageSummary) -> None:
        self.logger.info(
            "Campaign page processed",
            extra={
                "campaign_id": page.campaign_id,
                "page_number": page.page_number,
                "message_id": record.message_id,
                "sent": summary.sent,
                "failed": summary.failed,
                "retried": summary.retried,
                "busy": summary.busy,
                "suppressed": summary.suppressed,
                "already_handled": summary.already_handled,
                "opted_out": summary.opted_out,
                "invalid_addresses": summary.invalid,
                "aborted": summary.aborted,
            },
        )


def build_service(logger: Logger, count: Counter) -> BulkEmailService:
    return BulkEmailService(load_config(), logger, count)  # a ConfigError names the bad variable
