"""What a valid email address, password and display name look like (pure functions, no I/O)."""

from __future__ import annotations

import re

from .errors import AuthError

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "check_display_name", "check_password", "normalise_email"]

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; the bound keeps request bodies and hashing time sane
_MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
_MAX_LOCAL_PART = 64
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")

# The most common passwords of at least MIN_PASSWORD_LENGTH characters in public breach corpora (shorter ones are
# refused by length already). Compared case-insensitively.
COMMON_PASSWORDS = frozenset("""
1234567890 0123456789 0987654321 1234567891 1111111111 0000000000 1234512345 1122334455 1029384756 9876543210
12345678910 123456789a 123456789q 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx3edc q1w2e3r4t5 q1w2e3r4t5y6 a1b2c3d4e5
zaq12wsxcde qwertyuiop qwerty1234 qwerty12345 qwerty123456 qwertyuiop1 asdfghjkl1 asdfghjkl; zxcvbnm123
1qazxsw23edc abcdefghij abcd123456 abc1234567 password12 password123 password1234 password!1 password1!
passw0rd12 p@ssw0rd12 p@ssword123 passwordpassword iloveyou12 iloveyou123 letmein123 welcome123 welcome1234
football12 football123 baseball12 baseball123 sunshine12 sunshine123 princess12 princess123 starwars12
starwars123 superman12 superman123 batman1234 dragon1234 monkey1234 shadow1234 master1234 michael123
jennifer12 jordan2323 trustno123 whatever12 computer12 internet12 changeme12 changeme123 administrator
admin12345 admin123456 adminadmin qazwsxedcr qazwsxedc1 1234qwerty 123qweasdzxc 123123123123 1231231234
7777777777 8888888888 9999999999 5555555555 6666666666 2222222222 3333333333 4444444444 11111111111
aaaaaaaaaa abcabcabc1 loveyou1234 myspace123 pokemon123 chocolate1 butterfly1 liverpool1 chelsea123
energy1234 vppledger1 vppledger123 solarpower1 solarpanel1
""".split())


def normalise_email(email: object) -> str:
    """Lower case, trimmed; refuses anything that is not plausibly an address (``INVALID_EMAIL``)."""
    if not isinstance(email, str):
        raise AuthError("INVALID_EMAIL", "email must be a string")
    normal = email.strip().lower()
    if len(normal) > _MAX_EMAIL_LENGTH or not normal.isprintable() or not _EMAIL_SHAPE.fullmatch(normal):
        raise AuthError("INVALID_EMAIL", "email must look like name@example.org")
    if len(normal.split("@", 1)[0]) > _MAX_LOCAL_PART:
        raise AuthError("INVALID_EMAIL", f"the part before @ must be at most {_MAX_LOCAL_PART} characters")
    return normal


def check_password(password: object, email: str | None = None) -> str:
    """The policy for new passwords (``WEAK_PASSWORD``): long enough, not a common one, not the email address."""
    if not isinstance(password, str):
        raise AuthError("WEAK_PASSWORD", "password must be a string")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError("WEAK_PASSWORD", f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AuthError("WEAK_PASSWORD", f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.strip().lower()
    if folded in COMMON_PASSWORDS:
        raise AuthError("WEAK_PASSWORD", "this password is one of the most common ones; choose another")
    if email is not None and folded == email.strip().lower():
        raise AuthError("WEAK_PASSWORD", "password must not be the email address")
    return password


def check_display_name(name: object) -> str:
    if not isinstance(name, str) or len(name) > 100 or (name and not name.isprintable()):
        raise AuthError("INVALID_ARGUMENT", "display_name must be at most 100 printable characters")
    return name.strip()
