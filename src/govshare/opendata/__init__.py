"""Open data (开放数据, M1, M3, M8): the public portal and API of resources whose published 开放属性 is
无条件开放 or 有条件开放, and the public's applications for conditionally open ones.

Invariants:
- Only published entries whose published version is `open` or `conditional` exist here; anything
  else (不予开放, unpublished, retired) is 404, never 403.
- Rows leave only masked with the Bureau's open-data masking profile (default `open`, 开放数据脱敏),
  only of items the anonymous public may see (metadata access control, S9) and the classification
  scheme marks openable (S13); L4 items never (S23).
- Rows of a conditionally open resource go only to an approved applicant presenting the application
  number and its 查询码, within the approval's items and validity (M8).
- Every delivery (a rows page, a preview, a download) is audited with the caller's address, the
  filters, the row count and the SM3 of what was returned (S26, S27); so is every application step.
- Anonymous data calls are rate-limited per client address with a counter in the platform database,
  shared by every app instance.
"""
