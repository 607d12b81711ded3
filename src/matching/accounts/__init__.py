"""Accounts and credentials: users, passwords, bearer tokens, page sessions, sign-in (password or single
sign-on), demonstration accounts and the production start-up check.

Everything here writes to the store inside the caller's transaction and audits itself
(``matching.audit``); what a principal may then do is ``matching.access``.  Submodules are imported
directly (``from matching.accounts.tokens import issue_token``) so that the OpenID Connect module, and with
it PyJWT, is loaded only when single sign-on is used.
"""
