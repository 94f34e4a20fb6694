"""GovShare: the government data exchange, open-data and sharing platform (政务数据交换、开放和共享平台).

Domains live in their own packages (orgs, users, systems, audit, tasks, …); infrastructure (settings,
db, errors, crypto, authz, web shell, CLI) lives beside them. See docs/architecture.md.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("govshare")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0"
