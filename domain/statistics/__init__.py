"""Counts of customers per group for partners and staff, never of a group smaller than k."""
