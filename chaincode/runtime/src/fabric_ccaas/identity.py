"""The submitting client's identity, as Fabric's Go ``cid`` package reports it."""

from __future__ import annotations

import base64
import json
from functools import cached_property

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier
from fabric_protos.msp import identities_pb2

#: Fabric CA puts enrollment attributes in this extension, as JSON ``{"attrs": {...}}``.
ATTRIBUTE_EXTENSION_OID = ObjectIdentifier("1.2.3.4.5.6.7.8.1")

# Go's pkix.Name keeps these attributes as fields; ToRDNSequence emits them in this order, one RDN per type
# (several values of one type share the RDN, joined by "+"). Any other attribute of a parsed certificate is
# dropped, exactly as Go drops it. Reversed at the end, which gives "CN=...,OU=...,O=...,L=...,ST=...,C=...".
_GO_RDN_ORDER = (
    (NameOID.COUNTRY_NAME, "C", False),
    (NameOID.STATE_OR_PROVINCE_NAME, "ST", False),
    (NameOID.LOCALITY_NAME, "L", False),
    (NameOID.STREET_ADDRESS, "STREET", False),
    (NameOID.POSTAL_CODE, "POSTALCODE", False),
    (NameOID.ORGANIZATION_NAME, "O", False),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "OU", False),
    (NameOID.COMMON_NAME, "CN", True),  # single-valued in Go: the last one wins
    (NameOID.SERIAL_NUMBER, "SERIALNUMBER", True),
)


def _escape(value: str) -> str:
    out = []
    last = len(value) - 1
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;' or (ch == " " and i in (0, last)) or (ch == "#" and i == 0):
            out.append("\\")
        out.append(ch)
    return "".join(out)


def distinguished_name(name: x509.Name) -> str:
    """The DN string fabric-chaincode-go's ``cid`` computes for a parsed certificate name."""
    rdns = []
    for oid, label, single in _GO_RDN_ORDER:
        values = [attr.value for attr in name.get_attributes_for_oid(oid)]
        if not values:
            continue
        if single:
            values = values[-1:]
        rdns.append("+".join(f"{label}={_escape(str(v))}" for v in values))
    return ",".join(reversed(rdns))


class ClientIdentity:
    """MSP ID, certificate, Go-form id and Fabric CA attributes of a serialized identity."""

    def __init__(self, creator: bytes):
        identity = identities_pb2.SerializedIdentity.FromString(creator)
        self.msp_id: str = identity.mspid
        self.id_bytes: bytes = identity.id_bytes

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.id_bytes)

    @cached_property
    def id(self) -> str:
        """``x509::<subject DN>::<issuer DN>``: Go's ``cid.GetID()`` before its base64 encoding."""
        cert = self.certificate
        return f"x509::{distinguished_name(cert.subject)}::{distinguished_name(cert.issuer)}"

    @property
    def id_base64(self) -> str:
        """Exactly what Go's ``cid.GetID()`` returns."""
        return base64.b64encode(self.id.encode()).decode()

    @cached_property
    def attributes(self) -> dict[str, str]:
        try:
            ext = self.certificate.extensions.get_extension_for_oid(ATTRIBUTE_EXTENSION_OID)
        except x509.ExtensionNotFound:
            return {}
        raw = ext.value.value  # UnrecognizedExtension: the extension's raw bytes, JSON for Fabric CA
        try:
            attrs = json.loads(raw).get("attrs", {})
        except (ValueError, AttributeError):
            return {}
        return {str(k): str(v) for k, v in attrs.items()} if isinstance(attrs, dict) else {}

    def get_attribute_value(self, name: str) -> str | None:
        return self.attributes.get(name)

    def has_attribute_value(self, name: str, value: str) -> bool:
        return self.attributes.get(name) == value
