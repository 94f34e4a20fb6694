"""Authentication: people log in with passwords and get sessions; systems present bearer tokens.

Invariants:
- Session tokens and API tokens are random, shown once, and stored only as SM3 hashes; a session
  ends at logout, at expiry (`session_hours`) or when the person is deactivated.
- Every login, failed login and lockout is audited; failure counts and their audit events survive
  the request's rollback (they are evidence).
- Cookie sessions carry a CSRF token bound to the session; every state-changing request made with
  a cookie must present it. Bearer-token requests carry no ambient authority and need none.
"""
