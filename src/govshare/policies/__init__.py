"""Security policy register (安全管理制度): the Bureau's security strategy and management system and
each department's own rules, with their versions and periodic reviews.

Regulations (石政规〔2020〕4号): 第五条 the Bureau's 政务数据资源共享安全管理制度; 第六条 its security
strategy (安全方针、安全目标、安全原则) and the 制度规程 built on it; 第八条 each department's
数据资产安全管理制度, reviewed and updated periodically (定期审核和更新); 第九、十、十二条 the further
department rules (元数据管理规则, 日志记录规范, 数据防泄露规范, 安全应急预案).

Invariants:
- a policy belongs to one organisation (the Bureau: city-wide; or one department) and only that
  organisation's administrators change it; every logged-in person reads the Bureau's and their own
  department's policies, and another department's policies do not exist for them (404);
- the text is never overwritten: each revision adds a `SecurityPolicyVersion`, the policy row
  carries a copy of the current one, and `policy.version` equals the newest version's number;
- `next_review_on` is always the base date (effective date at creation, the day of the last review
  or revision after) plus `review_months`; a retired policy is never reminded nor changed again;
- every change is audited in its transaction.
"""
