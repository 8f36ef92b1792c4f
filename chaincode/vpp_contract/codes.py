"""Every error code the contract answers with, in one enum. Clients branch on these, never on the message."""

import enum


class Code(enum.Enum):
    # caller and permissions
    FORBIDDEN = "FORBIDDEN"                  # the caller's role or ownership does not allow this
    UNKNOWN_ROLE = "UNKNOWN_ROLE"            # the certificate carries no role the contract knows
    # arguments and registry
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    NOT_FOUND = "NOT_FOUND"
    # readings
    UNKNOWN_METER = "UNKNOWN_METER"
    METER_INACTIVE = "METER_INACTIVE"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    MISALIGNED_INTERVAL = "MISALIGNED_INTERVAL"
    FUTURE_INTERVAL = "FUTURE_INTERVAL"
    WRONG_KIND = "WRONG_KIND"
    PHYSICAL_LIMIT = "PHYSICAL_LIMIT"
    CONFLICTING_READING = "CONFLICTING_READING"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    # tokens and market
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    INSUFFICIENT_CREDIT = "INSUFFICIENT_CREDIT"
    OFFER_NOT_ACTIVE = "OFFER_NOT_ACTIVE"
    OFFER_EXCEEDED = "OFFER_EXCEEDED"
    OVERFLOW = "OVERFLOW"
