"""The customer's profile: what the statement requires, what it may ask, and how both change."""
