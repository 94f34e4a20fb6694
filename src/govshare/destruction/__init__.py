"""Supervised destruction of shared data (数据销毁, S28, S29).

A providing department's data administrator asks to destroy data of one of its resources — the
whole resource, some batches, rows by business key, or rows received in a time range — with a
reason and a method. The department's approver (审批人) approves for the department, the Bureau's
administrator approves for the Bureau, and the destruction supervisor (销毁监督员) the request names
confirms; the platform executes at that confirmation, in the same transaction.

Invariants:
- No step is skipped or repeated: every transition is a guarded update of the request's status and
  version, so two confirmations (or an approval and a refusal) racing each other cannot both win,
  and a request is executed at most once.
- The requester never approves or supervises their own request; the supervisor is neither approver.
- Destroyed rows are deleted (not retired) from the exchange store and the quarantine; a whole
  resource also loses its stored files, its exports and its encryption keys (crypto-shredding, so
  encrypted cells in every backup become unreadable).
- The evidence (counts, SM3 digests of what was removed, computed before deletion, files with their
  SM3, keys destroyed) is written with the execution and its audit event, and shown on the
  destruction certificate (销毁证明).
"""
