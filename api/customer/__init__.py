"""Operations a customer calls, one module each."""
