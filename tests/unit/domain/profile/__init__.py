"""Unit tests of the profile: card rules, field policy, values and use cases."""
