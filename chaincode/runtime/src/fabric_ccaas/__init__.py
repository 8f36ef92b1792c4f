"""fabric_ccaas: a Python chaincode runtime for Hyperledger Fabric 2.5, served as chaincode-as-a-service.

Built on the official protobuf bindings (``hyperledger-fabric-protos``) and ``grpcio``.
"""

from .contract import Context, Contract, ContractChaincode, canonical_json, error_code_of, evaluate, transaction
from .errors import ChaincodeError, KeyValidationError, PeerError, RuntimeCode, StreamClosedError
from .handler import Chaincode, error_response, success_response
from .identity import ClientIdentity
from .server import ChaincodeServer, ServerConfig
from .stub import KV, ChaincodeStub, KeyModification, QueryIterator, QueryPage

__all__ = [
    "KV", "Chaincode", "ChaincodeError", "ChaincodeServer", "ChaincodeStub", "ClientIdentity", "Context",
    "Contract", "ContractChaincode", "KeyModification", "KeyValidationError", "PeerError", "QueryIterator",
    "QueryPage", "RuntimeCode", "ServerConfig", "StreamClosedError", "canonical_json", "error_code_of",
    "error_response", "evaluate", "success_response", "transaction",
]
__version__ = "0.1.0"
