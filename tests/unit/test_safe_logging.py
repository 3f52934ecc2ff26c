"""What the handlers may log about an error: frames and codes, never exception messages."""

from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ClientError

from lambda_handlers.common.errors import safe_traceback
from lambda_handlers.common.shell import CAPPED_LOGGERS, cap_library_loggers

ADDRESS = "jane" + "@example.net"  # not literally in the frames' source lines below


def _fail_with_chained_errors() -> None:
    try:
        raise KeyError(ADDRESS)
    except KeyError as exc:
        error = {"Error": {"Code": "MessageRejected", "Message": "Email address is not verified: " + ADDRESS}}
        raise ClientError(error, "SendEmail") from exc  # type: ignore[arg-type]


def test_safe_traceback_keeps_frames_and_codes_but_no_messages() -> None:
    # GIVEN an AWS error whose message names an address, raised from an exception that names it too
    with pytest.raises(ClientError) as caught:
        _fail_with_chained_errors()

    # WHEN its traceback is rendered for the log
    text = safe_traceback(caught.value)

    # THEN both exceptions are shown by type, code and frames only
    assert ADDRESS not in text and "not verified" not in text
    assert "ClientError (error code MessageRejected)" in text
    assert "KeyError" in text and "which was raised while handling" in text
    assert "_fail_with_chained_errors" in text
    assert text.index("KeyError") < text.index("ClientError")


def test_library_loggers_are_capped_at_info_but_stricter_levels_are_kept() -> None:
    # GIVEN botocore set to DEBUG and urllib3 set to ERROR
    logging.getLogger("botocore").setLevel(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    try:
        # WHEN the cap is applied
        cap_library_loggers()

        # THEN botocore is at INFO, urllib3 stays at ERROR, every capped logger is at least INFO
        assert logging.getLogger("botocore").level == logging.INFO
        assert logging.getLogger("urllib3").level == logging.ERROR
        assert all(logging.getLogger(name).level >= logging.INFO for name in CAPPED_LOGGERS)
    finally:
        logging.getLogger("urllib3").setLevel(logging.INFO)
