"""The local card vault: encrypted at rest, bound to its token, readable across key rotation."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.profile.card import CardDetails
from persistence.card_vault import LocalCardVault, VaultKeyring
from persistence.tables import card_vault

CARD = CardDetails(number="4242424242424242", cvc="123", brand="VISA", exp_month=1, exp_year=2031)


async def test_a_number_is_stored_encrypted_and_revealed_with_its_key(engine: AsyncEngine) -> None:
    keyring = VaultKeyring.parse(VaultKeyring.generate("k1"))
    async with engine.begin() as conn:
        token = await LocalCardVault(conn, keyring).tokenize(CARD)
    async with engine.connect() as conn:
        row = (await conn.execute(select(card_vault))).mappings().one()
        assert row["key_id"] == "k1"
        assert CARD.number.encode() not in row["ciphertext"]
        assert await LocalCardVault(conn, keyring).reveal(token) == CARD.number


async def test_old_numbers_stay_readable_after_a_new_key_becomes_active(
    engine: AsyncEngine,
) -> None:
    first = VaultKeyring.generate("k1")
    async with engine.begin() as conn:
        old = await LocalCardVault(conn, VaultKeyring.parse(first)).tokenize(CARD)
    rotated = VaultKeyring.parse(f"{first},{VaultKeyring.generate('k2')}")
    assert rotated.active == "k2"
    async with engine.begin() as conn:
        vault = LocalCardVault(conn, rotated)
        new = await vault.tokenize(CARD)
        assert await vault.reveal(old) == CARD.number
        assert await vault.reveal(new) == CARD.number
        key_ids = dict((await conn.execute(select(card_vault.c.token, card_vault.c.key_id))).all())
    assert key_ids == {old: "k1", new: "k2"}


async def test_a_ciphertext_moved_to_another_token_does_not_decrypt(engine: AsyncEngine) -> None:
    from cryptography.exceptions import InvalidTag

    keyring = VaultKeyring.parse(VaultKeyring.generate("k1"))
    async with engine.begin() as conn:
        vault = LocalCardVault(conn, keyring)
        a = await vault.tokenize(CARD)
        b = await vault.tokenize(CARD)
        sealed_a = (
            await conn.execute(
                select(card_vault.c.ciphertext, card_vault.c.nonce).where(card_vault.c.token == a)
            )
        ).one()
        await conn.execute(
            card_vault.update()
            .where(card_vault.c.token == b)
            .values(ciphertext=sealed_a.ciphertext, nonce=sealed_a.nonce)
        )
        with pytest.raises(InvalidTag):
            await vault.reveal(b)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no vault key given"),
        ("k1", "written as id:base64key"),
        ("k1:not base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "must be 32 bytes"),
    ],
)
def test_bad_vault_keys_are_refused_with_a_clear_message(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VaultKeyring.parse(spec)
