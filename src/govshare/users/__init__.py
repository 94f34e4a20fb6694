"""People, their roles, the registration (备案) of key staff, and offboarding (离任审计).

Invariants:
- A person belongs to exactly one organisation; Bureau roles (admin, reviewer, auditor) are held
  only by Bureau staff.
- `data_admin` and `security_officer` are held only through a registration the Bureau approved
  (M21, S7). Approving a new registration for the same post ends the previous one and takes the
  role from the previous person: one registered holder per post and department.
- Passwords are stored as argon2id hashes and must meet the policy (length, character classes,
  not the username). Repeated failures lock the account for a while.
- Deactivating a person (offboarding) at once ends every session and token, hands open tasks to a
  named successor, ends registrations, and leaves an offboarding record listing what the person
  could access and what was revoked (S7).
"""
