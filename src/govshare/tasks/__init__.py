"""Tasks (待办): work waiting for a person, shown on their home page.

A task is assigned either to one person or to a role within an organisation (anyone holding it
may act). Domains open tasks when work arrives and close them when it is done; offboarding hands a
person's open tasks to the successor.
"""
