"""The working-day calendar the platform's deadlines are counted in (M16: a conditional sharing request is
answered within 10 working days).

Invariants:
- A year the Bureau loaded (`holiday_schedules`) is authoritative for that year, over `chinesecalendar`;
  years it did not load fall back to `chinesecalendar`, and beyond it to the provisional rule (weekends and
  fixed-date holidays), which is always reported as provisional (`govshare.workdays`).
- Loading a year replaces it whole, in one transaction, audited, and recomputes every provisional date
  the other modules registered through `service.on_schedule_loaded` in that same transaction.
- While a deadline is provisional the Bureau's administrators have one open task asking them to load the
  year (`deadlines.request_schedule`); loading the year closes it.

Regulations: M16 (10-working-day reply clock of conditional sharing).
"""
