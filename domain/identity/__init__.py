"""Who the customer is: passwords, sessions, sign-in and the tokens that prove an address."""
