"""Communication and sharing choices, and the append-only ledger that proves each of them."""
