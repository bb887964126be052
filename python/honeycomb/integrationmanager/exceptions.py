"""Exceptions an integration raises (the reference framework's names).

The host's reaction, per exception raised by `send_event`:
  IntegrationSendEventError            -> the alert is retried (max_send_retries)
  IntegrationMissingRequiredFieldError -> the alert is logged as an error and skipped
  IntegrationOutputFormatError         -> the alert is logged as an error and skipped
and by `poll_for_updates`:
  IntegrationPollEventError            -> polled again later
"""


class IntegrationException(Exception):
    """Base of the integration exceptions."""


class IntegrationMissingRequiredFieldError(IntegrationException):
    """An alert lacks a field the integration needs."""


class IntegrationPollEventError(IntegrationException):
    """Polling failed (or has nothing yet); try again later."""


class IntegrationOutputFormatError(IntegrationException):
    """The integration could not format its output data."""


class IntegrationSendEventError(IntegrationException):
    """Sending an event failed; the host retries it."""


class IntegrationTestFailed(IntegrationException):
    """test_connection failed."""


class IntegrationNoMethodImplementationError(IntegrationException):
    """The integration does not implement a method the host called."""
