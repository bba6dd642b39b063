"""GraphQL over HTTP: the FastAPI app, the Strawberry schema, sessions and the command line."""
