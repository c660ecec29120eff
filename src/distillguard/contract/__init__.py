"""The log contract: what an event and an account are, defined once for every reader and writer."""

from distillguard.contract.account import KNOWN_TIERS, Account
from distillguard.contract.body import RequestView, ResponseView, view_request, view_response
from distillguard.contract.errors import ContractError, Reason, RecordError
from distillguard.contract.event import CONTRACT_VERSION, Client, Event, Usage

__all__ = [
    "CONTRACT_VERSION",
    "KNOWN_TIERS",
    "Account",
    "Client",
    "ContractError",
    "Event",
    "Reason",
    "RecordError",
    "RequestView",
    "ResponseView",
    "Usage",
    "view_request",
    "view_response",
]
