"""Fabric's key rules: composite keys and the keys a range query may use."""

from __future__ import annotations

from .errors import KeyValidationError

COMPOSITE_KEY_NAMESPACE = "\x00"
MIN_UNICODE_RUNE = "\x00"
MAX_UNICODE_RUNE = "\U0010ffff"
#: What the shims send instead of an empty start key, so "" means "from the first simple key".
EMPTY_KEY_SUBSTITUTE = "\x01"


def _validate_part(part: str) -> None:
    if not isinstance(part, str):
        raise KeyValidationError(f"composite key parts must be strings, not {type(part).__name__}")
    if not part.isascii():  # only non-ASCII text can hold a lone surrogate (not UTF-8) or U+10FFFF
        try:
            part.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise KeyValidationError(f"not a valid utf8 string: [{part!r}]") from exc
    elif MIN_UNICODE_RUNE not in part:
        return  # the common case, without a Python loop over the characters
    for position, ch in enumerate(part):
        if ch in (MIN_UNICODE_RUNE, MAX_UNICODE_RUNE):
            raise KeyValidationError(
                f"input contains unicode U+{ord(ch):04X} starting at position [{position}]. "
                "U+0000 and U+10FFFF are not allowed in the input attribute of a composite key"
            )


def create_composite_key(object_type: str, attributes: list[str] | tuple[str, ...] = ()) -> str:
    _validate_part(object_type)
    parts = [COMPOSITE_KEY_NAMESPACE, object_type, MIN_UNICODE_RUNE]
    for attribute in attributes:
        _validate_part(attribute)
        parts.append(attribute)
        parts.append(MIN_UNICODE_RUNE)
    return "".join(parts)


def split_composite_key(key: str) -> tuple[str, list[str]]:
    if not key.startswith(COMPOSITE_KEY_NAMESPACE):
        raise KeyValidationError(f"not a composite key: {key!r}")
    components = key[1:].split(MIN_UNICODE_RUNE)
    if len(components) < 2 or components[-1] != "":
        raise KeyValidationError(f"malformed composite key: {key!r}")
    components.pop()
    return components[0], components[1:]


def validate_simple_keys(*keys: str) -> None:
    for key in keys:
        if key and key[0] == COMPOSITE_KEY_NAMESPACE:
            raise KeyValidationError(
                f"first character of the key [{key!r}] contains a null character which is not allowed"
            )


def validate_key(key: str) -> None:
    if not isinstance(key, str) or key == "":
        raise KeyValidationError("key must not be an empty string")


def validate_collection(collection: str) -> None:
    if not isinstance(collection, str) or collection == "":
        raise KeyValidationError("collection must not be an empty string")
