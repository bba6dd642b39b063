"""Signing in and out, passwords and e-mail verification, one transaction each."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode, FieldPath, Problem, RateLimited
from domain.identity import notices
from domain.identity.model import (
    ClientInfo,
    Session,
    SignInEvent,
    TokenPurpose,
    issue_token,
    open_session,
    secret_hash,
)
from domain.identity.passwords import check_password, personal_words
from domain.ports import Throttle, UnitOfWork
from domain.profile.model import Customer
from domain.profile.validation import check_email

INVALID_CREDENTIALS = "The e-mail address or the password is not right."
TOO_MANY_ATTEMPTS = "Too many attempts; wait a few minutes and try again."


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the token is handed to the client once and stored only as a hash."""

    token: str
    session: Session
    customer: Customer


async def start_session(
    uow: UnitOfWork, deps: Dependencies, customer: Customer, client: ClientInfo
) -> SignedIn:
    """Open a session and log the sign-in, inside the caller's transaction."""
    now = deps.clock.now()
    token, session = open_session(customer.id, now, deps.sessions)
    await uow.sessions.add(session)
    await uow.sign_ins.add(
        SignInEvent(uuid.uuid4(), customer.id, now, client.ip, client.user_agent)
    )
    return SignedIn(token, session, customer)


async def login(deps: Dependencies, email: str, password: str, client: ClientInfo) -> SignedIn:
    """Check the credentials; an unknown address and a wrong password fail the same way."""
    address, _ = check_email(email.strip())
    account_key = address or email.strip().lower()
    ip_key = client.ip or "unknown"
    # Counted before the (slow) check, so parallel guesses cannot all slip under the limit; a
    # success clears the account's count. An unknown address is counted, and refused, the same.
    await count_attempt(deps, Throttle.LOGIN_ACCOUNT, account_key)
    await count_attempt(deps, Throttle.LOGIN_IP, ip_key)
    customer = None
    if address is not None:
        # One statement, no transaction: what is written below is read again under a lock.
        async with deps.unit_of_work.reads() as reads:
            customer = await reads.customer_reads.by_email(address)
    # Verified outside any transaction: hashing is slow and must not hold a connection.
    ok = await deps.hasher.verify(password, customer.password_hash if customer else None)
    if customer is None or not ok:
        raise DomainError.single(ErrorCode.INVALID_CREDENTIALS, INVALID_CREDENTIALS)
    now = deps.clock.now()
    token, session = open_session(customer.id, now, deps.sessions)
    event = SignInEvent(uuid.uuid4(), customer.id, now, client.ip, client.user_agent)
    # Written only if the password is the one checked: it may have been changed or reset since.
    if deps.hasher.needs_rehash(customer.password_hash):
        new_hash = await deps.hasher.hash(password)
        async with deps.unit_of_work() as uow:
            started = await write_sign_in(uow, customer.password_hash, session, event, new_hash)
    else:
        started = await deps.unit_of_work.start_session(customer.password_hash, session, event)
    if not started:
        raise DomainError.single(ErrorCode.INVALID_CREDENTIALS, INVALID_CREDENTIALS)
    await deps.limiter.clear(Throttle.LOGIN_ACCOUNT, account_key)
    return SignedIn(token, session, customer)


async def write_sign_in(
    uow: UnitOfWork,
    password_hash: str,
    session: Session,
    event: SignInEvent,
    new_hash: str | None = None,
) -> bool:
    """In ``uow``, and committed: ``session`` and its ``event`` if the customer's stored password
    hash is still ``password_hash`` (the customer locked meanwhile), with ``new_hash`` stored in
    its place when given; False, with nothing written, when it is not. What
    :meth:`UnitOfWorkFactory.start_session` does where one statement cannot."""
    current = await uow.customers.get_for_update(session.customer_id)
    if current is None or current.password_hash != password_hash:
        return False
    if new_hash is not None:
        current.password_hash = new_hash
        await save_customer(uow, current)
    await uow.sessions.add(session)
    await uow.sign_ins.add(event)
    await uow.commit()
    return True


async def authenticate(deps: Dependencies, token: str) -> Session | None:
    """The live session a token stands for, or None; refreshes the idle clock now and then."""
    if not token:
        return None
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        session = await uow.sessions.get_by_token_hash(secret_hash(token))
        if session is None:
            return None
        if not session.is_active(now, deps.sessions):
            await uow.sessions.end(session.id)
            await uow.commit()
            return None
        if session.needs_touch(now, deps.sessions):
            await uow.sessions.touch(session.id, now)
            session.last_seen_at = now
            await uow.commit()
    return session


async def logout(deps: Dependencies, session: Session) -> None:
    """End this session; the token stops working at once."""
    async with deps.unit_of_work() as uow:
        await uow.sessions.end(session.id)
        await uow.commit()


async def change_password(
    deps: Dependencies, session: Session, current_password: str, new_password: str
) -> None:
    """Replace the password after checking the current one; every other session ends."""
    async with deps.unit_of_work() as uow:
        customer = await load_customer(uow, session.customer_id)
    problems = check_password(new_password, ("new_password",), _personal_words(customer))
    if problems:
        raise DomainError(problems)
    await check_current_password(deps, customer, current_password, ("current_password",))
    checked_hash = customer.password_hash
    new_hash = await deps.hasher.hash(new_password)
    async with deps.unit_of_work() as uow:
        customer = await lock_customer(uow, session.customer_id)
        if customer.password_hash != checked_hash:
            raise changed_meanwhile()
        customer.password_hash = new_hash
        customer.updated_at = deps.clock.now()
        await save_customer(uow, customer)
        await uow.sessions.end_all_for(customer.id, keep=session.id)
        await uow.tokens.revoke_all(customer.id, TokenPurpose.PASSWORD_RESET, deps.clock.now())
        await uow.mailer.send(notices.password_changed(customer.email), about=customer.id)
        await uow.commit()


async def request_password_reset(
    deps: Dependencies, email: str, client: ClientInfo
) -> Callable[[], Awaitable[None]]:
    """Count the request against the caller's IP (:class:`RateLimited` past the limit, which
    says nothing about the address) and return the rest of the work, to be run once the answer
    has gone: how long it takes must not tell whether the address has an account."""
    await count_attempt(deps, Throttle.PASSWORD_RESET_IP, client.ip or "unknown")
    return functools.partial(send_password_reset, deps, email)


async def send_password_reset(deps: Dependencies, email: str) -> None:
    """Send a reset code if the address belongs to a customer, and never say whether it does;
    past the limit per address, send nothing (an inbox is not flooded)."""
    address, _ = check_email(email.strip())
    if address is None:
        return
    if not await deps.limiter.hit(Throttle.PASSWORD_RESET, address):
        return
    async with deps.unit_of_work() as uow:
        customer = await uow.customers.get_by_email(address)
        if customer is None:
            return
        now = deps.clock.now()
        await uow.tokens.revoke_all(customer.id, TokenPurpose.PASSWORD_RESET, now)
        token, record = issue_token(customer.id, TokenPurpose.PASSWORD_RESET, address, now)
        await uow.tokens.add(record)
        await uow.mailer.send(notices.reset_password(address, token, deps.links), about=customer.id)
        await uow.commit()


async def reset_password(
    deps: Dependencies, token: str, new_password: str, client: ClientInfo
) -> None:
    """Set a new password with a reset token; the token is used up and every session ends."""
    await count_attempt(deps, Throttle.CODE_ATTEMPTS_IP, client.ip or "unknown")
    async with deps.unit_of_work() as uow:
        record = await uow.tokens.get(secret_hash(token))
        customer = await uow.customers.get(record.customer_id) if record else None
    if (
        record is None
        or customer is None
        or not record.usable(TokenPurpose.PASSWORD_RESET, deps.clock.now())
        or record.email != customer.email
    ):
        raise _invalid_token()
    problems = check_password(new_password, ("new_password",), _personal_words(customer))
    if problems:
        raise DomainError(problems)
    new_hash = await deps.hasher.hash(new_password)
    async with deps.unit_of_work() as uow:
        now = deps.clock.now()
        if not await uow.tokens.mark_used(record.token_hash, now):
            raise _invalid_token()
        customer = await lock_customer(uow, record.customer_id)
        customer.password_hash = new_hash
        customer.updated_at = now
        await save_customer(uow, customer)
        await uow.sessions.end_all_for(customer.id)
        await uow.mailer.send(notices.password_changed(customer.email), about=customer.id)
        await uow.commit()


async def verify_email(deps: Dependencies, token: str, client: ClientInfo) -> Customer:
    """Confirm the address a verification token was sent to, if it is still the customer's."""
    await count_attempt(deps, Throttle.CODE_ATTEMPTS_IP, client.ip or "unknown")
    async with deps.unit_of_work() as uow:
        now = deps.clock.now()
        record = await uow.tokens.get(secret_hash(token))
        customer = await uow.customers.get_for_update(record.customer_id) if record else None
        if (
            record is None
            or customer is None
            or not record.usable(TokenPurpose.EMAIL_VERIFICATION, now)
            or record.email != customer.email
            or not await uow.tokens.mark_used(record.token_hash, now)
        ):
            raise _invalid_token()
        customer.email_verified_at = now
        await save_customer(uow, customer)
        await uow.commit()
    return customer


async def send_email_verification(uow: UnitOfWork, deps: Dependencies, customer: Customer) -> None:
    """Issue a verification token for the customer's current address and mail it."""
    now = deps.clock.now()
    await uow.tokens.revoke_all(customer.id, TokenPurpose.EMAIL_VERIFICATION, now)
    token, record = issue_token(customer.id, TokenPurpose.EMAIL_VERIFICATION, customer.email, now)
    await uow.tokens.add(record)
    await uow.mailer.send(
        notices.verify_email(customer.email, token, deps.links), about=customer.id
    )


async def check_current_password(
    deps: Dependencies, customer: Customer, password: str | None, path: FieldPath
) -> None:
    """Refuse unless ``password`` is the customer's; repeated failures are throttled."""
    if not password:
        raise DomainError([Problem(path, ErrorCode.REQUIRED, "Enter your current password.")])
    key = str(customer.id)
    if not await deps.limiter.hit(Throttle.LOGIN_ACCOUNT, key):
        raise DomainError([Problem(path, ErrorCode.TOO_MANY_ATTEMPTS, TOO_MANY_ATTEMPTS)])
    if not await deps.hasher.verify(password, customer.password_hash):
        raise DomainError(
            [Problem(path, ErrorCode.WRONG_PASSWORD, "The current password is not right.")]
        )
    await deps.limiter.clear(Throttle.LOGIN_ACCOUNT, key)


async def count_attempt(deps: Dependencies, throttle: Throttle, key: str) -> None:
    """Count one attempt by ``key`` (an IP address, an account); past the limit, raise
    :class:`RateLimited` with the seconds until the next attempt may come, before anything is
    done. For anonymous callers; a signed-in customer's mistyped password is a field error."""
    if not await deps.limiter.hit(throttle, key):
        raise RateLimited(await deps.limiter.retry_after(throttle, key))


async def load_customer(uow: UnitOfWork, customer_id: uuid.UUID) -> Customer:
    """The customer behind a session; refused if the account is gone."""
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise DomainError.single(ErrorCode.INVALID, "This account no longer exists.")
    return customer


async def lock_customer(uow: UnitOfWork, customer_id: uuid.UUID) -> Customer:
    """The customer as stored, held until the transaction ends so that a change made to it
    cannot undo a concurrent one; refused if the account is gone."""
    customer = await uow.customers.get_for_update(customer_id)
    if customer is None:
        raise DomainError.single(ErrorCode.INVALID, "This account no longer exists.")
    return customer


async def save_customer(uow: UnitOfWork, customer: Customer) -> None:
    """Write the customer back, refusing if someone changed it in between (never, when it was
    read with :func:`lock_customer` in the same transaction)."""
    if not await uow.customers.save(customer, customer.version):
        raise changed_meanwhile()
    customer.version += 1


def changed_meanwhile() -> DomainError:
    """The account changed under a call in a way that voids a check it made: try again."""
    return DomainError.single(
        ErrorCode.CONFLICT, "The account changed while this was being done; try again."
    )


def _personal_words(customer: Customer) -> list[str]:
    p = customer.profile
    return personal_words(p.email, p.name, p.company_name)


def _invalid_token() -> DomainError:
    return DomainError.single(
        ErrorCode.INVALID_TOKEN, "This link or code is not valid: it may have been used or expired."
    )
