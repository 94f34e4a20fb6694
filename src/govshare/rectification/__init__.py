"""Violations and rectification notices (违规发现与整改通知, M24 of the sharing regulation).

The platform detects the six situations of M24 from its own records — (1) catalog not compiled or
not updated, (2) data not provided in time, (3) data inconsistent, stale or not conforming,
(4) use beyond the declared purpose, (5) misuse of sensitive data (abuse alerts) — and the Bureau
enters (6) other violations by hand. The Bureau reviews violations and issues a rectification
notice (整改通知) with a deadline in working days; the department answers with a rectification
report; the Bureau verifies or rejects it; a notice past its deadline without a report is escalated
and a frozen report to the city government (上报市政府) is generated.

Invariants:
- One unresolved violation per problem (`dedupe_key`, unique among unresolved rows): the detector
  extends it instead of raising it again; a resolved situation may recur as a new violation.
- Notices are issued by people only (the Bureau reviews every detected violation first).
- Every transition of a notice is a version-guarded update, audited in the same transaction.
- An escalation document is rendered once; its content and SM3 digest never change afterwards.
"""
