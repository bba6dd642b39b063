"""Trusted documents: the GraphQL operations front ends and partners ship ahead of time."""
