"""E-mail leaving the outbox: what a relay does with each message and when it gives up."""
