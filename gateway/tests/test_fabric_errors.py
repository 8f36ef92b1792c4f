from __future__ import annotations

import grpc
import pytest
from fake_fabric_gateway import encode_status_details
from vpp_gateway.fabric import ChaincodeError, EndorseError, ErrorDetail
from vpp_gateway.fabric.errors import decode_error_details, parse_chaincode_error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chaincode response 500, INSUFFICIENT_BALANCE: need 5", ChaincodeError(500, "INSUFFICIENT_BALANCE", "need 5")),
        ("chaincode response 403, FORBIDDEN: a: b", ChaincodeError(403, "FORBIDDEN", "a: b")),
        (
            "evaluate call to endorser returned error: chaincode response 500, BAD_SIGNATURE: meter m1",
            ChaincodeError(500, "BAD_SIGNATURE", "meter m1"),
        ),
        ("chaincode response 500, something broke: details", ChaincodeError(500, None, "something broke: details")),
        ("chaincode response 500, E2E_1: x", ChaincodeError(500, "E2E_1", "x")),
        ("chaincode response 500, ", ChaincodeError(500, None, "")),
        ("chaincode response 500, 404: not found", ChaincodeError(500, None, "404: not found")),
        ("chaincode response 500, Bad_Code: x", ChaincodeError(500, None, "Bad_Code: x")),
        ("failed to endorse transaction, see attached details for more info", None),
        ("chaincode response abc, X: y", None),
        ("the chaincode response 500, X: y", None),
        ("make sure the chaincode vpp has been successfully defined", None),
    ],
)
def test_parse_chaincode_error(text, expected):
    assert parse_chaincode_error(text) == expected


def test_error_details_are_decoded_from_the_status_trailer():
    trailer = (
        ("other-key", b"ignored"),
        (
            "grpc-status-details-bin",
            encode_status_details(
                grpc.StatusCode.ABORTED,
                "failed",
                [("peer0:7051", "Org1MSP", "chaincode response 500, X_Y: z"), ("peer1:9051", "Org2MSP", "timeout")],
            ),
        ),
    )

    details = decode_error_details(trailer)

    assert details == (
        ErrorDetail("peer0:7051", "Org1MSP", "chaincode response 500, X_Y: z"),
        ErrorDetail("peer1:9051", "Org2MSP", "timeout"),
    )
    assert details[0].chaincode_error == ChaincodeError(500, "X_Y", "z")
    assert details[1].chaincode_error is None
    assert decode_error_details(None) == ()
    assert decode_error_details((("grpc-status-details-bin", b"\xff\xff"),)) == ()


def test_error_string_names_code_transaction_and_peers():
    error = EndorseError(
        "failed to endorse",
        code=grpc.StatusCode.ABORTED,
        transaction_id="abc",
        details=(ErrorDetail("peer0:7051", "Org1MSP", "timeout"),),
    )
    assert str(error) == "failed to endorse [ABORTED] tx abc; Org1MSP@peer0:7051: timeout"
    assert error.chaincode_error is None
