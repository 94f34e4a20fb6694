"""Abuse detection, alerts and incident response (石政规〔2020〕4号 S10–S12).

- `detection`: rules over the audit log with thresholds the Bureau edits, and the scanner that
  evaluates each audit event once (a stored watermark) and raises alerts with their evidence.
- `alerts`: the alert lifecycle open → assigned → investigating → closed with a conclusion and the
  accountability (追责) outcome.
- `incidents`: security incidents with a timeline; `containment`: one-click, reversible
  containment (suspend a business system, freeze a department's grants, disable a person).

Invariants: the scanner never evaluates an audit event twice and a continuing situation extends
its open alert instead of raising another; every change here is audited in the same transaction;
a department's security officer sees only alerts about their own department (others are 404);
lifting a containment restores exactly the state it replaced, and nothing it did not change.
"""
