"""Partners' webhooks: endpoints, the outbox of consent events, and delivery with retries."""
