"""Mini-program accounts: login, tokens, dealer and store memberships, invitations."""
