"""The one exception domain code raises: a stable code and a message."""

from fabric_ccaas import ChaincodeError

# Domain errors are chaincode errors: the transaction layer lets them through as ``CODE: message``.
DomainError = ChaincodeError
