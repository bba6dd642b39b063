"""Operations a partner integration calls with its API key."""
