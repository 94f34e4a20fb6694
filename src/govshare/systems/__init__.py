"""Business systems (业务信息系统): a department's machine clients (M13, S11).

Invariants:
- A system belongs to one department and acts only for it.
- Its bearer tokens are shown once, stored only as SM3 hashes, expire, and can be rotated or
  revoked; a revoked or expired token is refused and its use is audited.
- A call is accepted only from an address inside one of the system's allowed CIDRs; a call from
  elsewhere is refused (403) and audited, even with a valid token (S11 终端接入控制).
"""
