"""Classification and grading (分类分级, S13), the data-asset register (数据资产登记, S8) and the level
controls that sharing, exports, opening and catalog disclosure (元数据访问控制, S9) obey.

- `models`: the Bureau's level scheme, one row per level of each dimension: data importance
  (一般/重要/核心 per GB/T 43697) and personal-information sensitivity (L1–L4).
- `scheme`: the scheme as the rest of the platform reads it (`load`), with the controls of an item
  (the strictest of its two levels), a resource's level (its highest item's), and the checks that
  grants, deliveries, exports and open entries must pass.
- `service`: reading and editing the scheme (Bureau administrators, audited).
- `register`: the data-asset register of every resource, with CSV export (audited).

Invariants: an item's controls are never looser than either of its levels'; the scheme's defaults
live in one place (`scheme.DEFAULTS`, seeded by the migration) and are never repeated at call
sites; a grant, delivery or export that breaks the controls is refused with a message saying which
items and which level; every change of the scheme is audited with its content before and after.
"""
