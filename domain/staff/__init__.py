"""Staff: who may look at a customer's record, why, and the log every look leaves."""
