"""Shared machinery of the fakes: clock, roster, tokens, ledger, journal, faults, inbound, HTTP."""

from .clock import ManualClock, Now, wall_clock
from .faults import FAULT_KINDS, FaultEngine, FaultKind, FaultRule, FaultRuleError, Fired, Match
from .http import Call, ConnectionDropped, DroppedResponse, FakeService, json_response
from .inbound import Inbound, InboundItem
from .journal import Journal, JournalEntry
from .ledger import Ledger, LedgerEntry, content_hash
from .roster import Account, Client, Credential, Roster, fingerprint
from .tokens import TokenStore
from .world import World

__all__ = [
    "FAULT_KINDS",
    "Account",
    "Call",
    "Client",
    "ConnectionDropped",
    "Credential",
    "DroppedResponse",
    "FakeService",
    "FaultEngine",
    "FaultKind",
    "FaultRule",
    "FaultRuleError",
    "Fired",
    "Inbound",
    "InboundItem",
    "Journal",
    "JournalEntry",
    "Ledger",
    "LedgerEntry",
    "ManualClock",
    "Match",
    "Now",
    "Roster",
    "TokenStore",
    "World",
    "content_hash",
    "fingerprint",
    "json_response",
    "wall_clock",
]
