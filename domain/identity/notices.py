"""The e-mails the account sends. Their content is never logged; only their kind is."""

from __future__ import annotations

from domain.dependencies import AccountLinks
from domain.identity.model import TOKEN_LIFETIME, TokenPurpose
from domain.ports import EmailMessage


def _hours(purpose: TokenPurpose) -> int:
    return int(TOKEN_LIFETIME[purpose].total_seconds() // 3600)


def verify_email(to: str, token: str, links: AccountLinks) -> EmailMessage:
    return EmailMessage(
        kind="EMAIL_VERIFICATION",
        to=to,
        subject="Confirm your e-mail address",
        body=(
            "Please confirm that this address is yours by opening this link:\n\n"
            f"{links.verify_email(token)}\n\n"
            f"or by entering this code: {token}\n\n"
            f"The code works once and expires in {_hours(TokenPurpose.EMAIL_VERIFICATION)} hours."
        ),
    )


def reset_password(to: str, token: str, links: AccountLinks) -> EmailMessage:
    return EmailMessage(
        kind="PASSWORD_RESET",
        to=to,
        subject="Reset your password",
        body=(
            "Someone asked to reset the password of the account with this address. If it was "
            "you, open this link:\n\n"
            f"{links.reset_password(token)}\n\n"
            f"or enter this code: {token}\n\n"
            f"It works once and expires in {_hours(TokenPurpose.PASSWORD_RESET)} hour(s). "
            "If it was not you, ignore this message: your password stays as it is."
        ),
    )


def password_changed(to: str) -> EmailMessage:
    return EmailMessage(
        kind="PASSWORD_CHANGED",
        to=to,
        subject="Your password was changed",
        body=(
            "The password of your account was just changed and every other session was signed "
            "out. If you did not do this, reset your password at once and contact us."
        ),
    )


def email_changed(old_address: str, new_address: str) -> EmailMessage:
    return EmailMessage(
        kind="EMAIL_CHANGED",
        to=old_address,
        subject="Your e-mail address was changed",
        body=(
            f"The e-mail address of your account was changed to {new_address}. If you did not "
            "do this, reset your password at once and contact us."
        ),
    )
