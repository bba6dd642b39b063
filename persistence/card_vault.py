"""The local card vault, for development and self-hosting: card numbers encrypted with AES-GCM
in a table of their own, each tagged with the id of its key so that keys can be rotated. The
same keyring seals the webhook signing secrets (persistence/repositories/webhooks.py).

The key lives in settings, never in the database. The security code is not stored at all
(PCI DSS forbids keeping it after authorisation); a payment provider's adapter would forward it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.profile.card import CardDetails
from persistence.tables import card_vault


@dataclass(frozen=True, slots=True)
class Sealed:
    """A ciphertext and what is needed to open it: the key's id and the nonce."""

    key_id: str
    nonce: bytes
    ciphertext: bytes = field(repr=False)


@dataclass(frozen=True)
class VaultKeyring:
    """The vault's keys by id; new numbers are sealed with the active one."""

    keys: Mapping[str, bytes] = field(repr=False)
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ValueError(f"the active vault key {self.active!r} is not among the keys")
        for key_id, key in self.keys.items():
            if len(key) != 32:
                raise ValueError(f"vault key {key_id!r} must be 32 bytes (AES-256)")

    @classmethod
    def parse(cls, spec: str, active: str | None = None) -> VaultKeyring:
        """Keys written as ``id:base64,id:base64``; the last is active unless ``active`` says."""
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key_id, sep, encoded = item.partition(":")
            if not sep or not key_id:
                raise ValueError("vault keys are written as id:base64key, separated by commas")
            try:
                keys[key_id] = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise ValueError(f"vault key {key_id!r} is not valid base64") from None
        if not keys:
            raise ValueError("no vault key given")
        return cls(keys, active or list(keys)[-1])

    def seal(self, plaintext: bytes, bound_to: bytes) -> Sealed:
        """Encrypt with the active key; ``bound_to`` (the row's token or id) must be given
        again to open it, so a ciphertext copied to another row does not open there."""
        nonce = os.urandom(12)
        ciphertext = AESGCM(self.keys[self.active]).encrypt(nonce, plaintext, bound_to)
        return Sealed(self.active, nonce, ciphertext)

    def open(self, sealed: Sealed, bound_to: bytes) -> bytes:
        return AESGCM(self.keys[sealed.key_id]).decrypt(sealed.nonce, sealed.ciphertext, bound_to)

    @staticmethod
    def generate(key_id: str) -> str:
        """A new key in the form :meth:`parse` reads."""
        return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


class LocalCardVault:
    def __init__(self, connection: AsyncConnection, keyring: VaultKeyring) -> None:
        self._conn = connection
        self._keyring = keyring

    async def tokenize(self, card: CardDetails) -> str:
        token = "card_" + secrets.token_urlsafe(24)
        sealed = self._keyring.seal(card.number.encode(), token.encode())
        await self._conn.execute(
            insert(card_vault).values(
                token=token,
                key_id=sealed.key_id,
                nonce=sealed.nonce,
                ciphertext=sealed.ciphertext,
                created_at=datetime.now(UTC),
            )
        )
        return token

    async def discard(self, vault_token: str) -> None:
        await self._conn.execute(delete(card_vault).where(card_vault.c.token == vault_token))

    async def reveal(self, vault_token: str) -> str | None:
        """The number behind a token, for the payment run; never exposed through the API."""
        query = select(card_vault).where(card_vault.c.token == vault_token)
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        sealed = Sealed(row["key_id"], row["nonce"], row["ciphertext"])
        return self._keyring.open(sealed, vault_token.encode()).decode()
