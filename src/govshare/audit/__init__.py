"""Tamper-evident audit log (S10, S11, S12; evidence for S7, M24).

Invariants:
- An event is written in the same transaction as the change it records; a rolled-back change
  leaves no event, a committed change always has one.
- Events form one chain: event n stores the SM3 hash of event n-1 and its own hash over its
  canonical content. `audit_head` holds the last sequence number and hash; appending updates that
  one row, so concurrent writers queue and the chain never forks.
- Every `audit_checkpoint_every` events (and at least every `audit_checkpoint_minutes`) the chain
  hash is signed with the platform's SM2 key. `verify_chain` recomputes everything and reports the
  first broken link for any edit, deletion, insertion or reordering made behind the platform's back.
"""
