"""Multi-source analysis with output risk assessment (数据处理安全, S24; masking inside it, S23).

A department's analyst writes one read-only SQL query over the resources the department holds
active grants for (table `r<resource_id>` per resource) and declares the purpose it serves. The
query is parsed and checked with sqlglot before anything runs (`sql`); only then are the granted
rows — granted items only, within the grant's row scope, live rows only, masked with the grant's
profile exactly as the data API delivers them — copied into a fresh in-memory SQLite database
(`sandbox`) where the query runs with a time budget and a result cap. The result is assessed
(`risk`): direct identifiers by value, k-anonymity over quasi-identifiers, small cells in
aggregates, differencing against the same analyst's earlier releases. Only a result whose checks
all pass can be released, as a CSV export or as a derived dataset kept by the department.

Invariants:
- analyst SQL never runs against the platform database or the exchange store: the sandbox holds only
  what the grants allow, so even a checker bug cannot reach ungranted items or rows;
- a purpose must match an active grant of each resource queried (M17); a refusal is audited;
- every query (accepted or refused, with the reason), its checks and every release are audited with
  their sources (resource, grant, the batches the rows came from);
- a derived dataset's level is the highest of its sources' items and it is never shared outside the
  department (sharing it would need each source provider's consent; no route offers it).
"""
