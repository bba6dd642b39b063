"""GraphQL operations for staff: sign-in, logged reads of records, the request queue."""
