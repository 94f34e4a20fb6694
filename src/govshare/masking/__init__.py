"""Masking (脱敏, S23): value rules, JSON paths for API services, and the Bureau's masking profiles.

- `rules`: what each rule does to a value and where in a JSON document it applies (re-exported
  here, so `from govshare.masking import parse_rule, apply, ...` keeps working).
- `profiles`: which rule each item of a resource gets, from its sensitivity level and its kind
  (ID number, mobile, name …), and the compiled `RowMasker` that applies them to delivered rows.
- `service`: the Bureau's profiles in the database (`row_masker` is what the sharing module calls).

`row_masker` and `RowMasker` are importable from here too (`from govshare.masking import row_masker`),
loaded on first use: the service needs the database models, and the value rules are imported by
modules those models import.

Invariants: L4 items are never delivered (dropped, whatever a profile says); a value a rule cannot
read is hidden, never passed through; a row masker outputs only the items it was compiled for.
"""

from typing import TYPE_CHECKING, Any

from govshare.masking.rules import (
    ADDRESS_TAIL,
    COMPOUND_SURNAMES,
    EACH,
    MAX_KEEP,
    MAX_PATH,
    MAX_STEPS,
    REGION_LEVELS,
    RULES,
    Mask,
    MaskingError,
    Rule,
    ShapeError,
    Step,
    apply,
    column_masker,
    compile_masks,
    mask_value,
    parse_path,
    parse_rule,
    pseudonym_key,
    value_masker,
)

if TYPE_CHECKING:
    from govshare.masking.profiles import RowMasker
    from govshare.masking.service import row_masker


def __getattr__(name: str) -> Any:
    if name == "row_masker":
        from govshare.masking.service import row_masker

        return row_masker
    if name == "RowMasker":
        from govshare.masking.profiles import RowMasker

        return RowMasker
    raise AttributeError(f"module 'govshare.masking' has no attribute {name!r}")


__all__ = [
    "ADDRESS_TAIL",
    "COMPOUND_SURNAMES",
    "EACH",
    "MAX_KEEP",
    "MAX_PATH",
    "MAX_STEPS",
    "REGION_LEVELS",
    "RULES",
    "Mask",
    "MaskingError",
    "RowMasker",
    "Rule",
    "ShapeError",
    "Step",
    "apply",
    "column_masker",
    "compile_masks",
    "mask_value",
    "parse_path",
    "parse_rule",
    "pseudonym_key",
    "row_masker",
    "value_masker",
]
