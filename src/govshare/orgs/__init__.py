"""Organisations: the Bureau, departments, district governments and authorised enterprises.

Invariants:
- Exactly one organisation of kind `bureau` (市数据资源管理局), the platform's operator.
- Every organisation has a unique 统一社会信用代码. In `strict` credit-code mode its GB 32100
  check character must be right; in `warn` mode a wrong one is accepted, the organisation is
  flagged (`credit_code_checked = False`) and a warning is audited.
- Names and codes are unique; edits carry the version they were based on (concurrent edits conflict).

Regulations: M8 (authorised enterprises), M26/S31 (district governments), M21 (Bureau oversight).
"""
