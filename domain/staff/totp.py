"""Time-based one-time passwords (RFC 6238), the second factor every staff account needs."""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "datarights"
# A code from the step before or after the current one is accepted, for clock drift.
DRIFT_STEPS = 1


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """What an authenticator app scans (an otpauth:// URI)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (within the drift allowed), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator shows at ``at`` (for operators' tools and tests)."""
    return pyotp.TOTP(secret).at(at)
