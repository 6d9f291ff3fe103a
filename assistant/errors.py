"""The error tree of the assistant package.

Every error a user can cause (bad configuration, an unreachable database, a forged
webhook) is a `KbError` with a one-line message that names the variable or path and
what to do. The CLI prints that line and exits non-zero; the web app maps the
subclasses to HTTP statuses in one place.
"""


class KbError(Exception):
    """Base class: a failure with a message meant for the operator."""


class ConfigError(KbError):
    """A setting is missing or invalid."""


class DatabaseError(KbError):
    """The database cannot be reached, started or migrated."""


class DataDirLocked(DatabaseError):
    """Another process holds the embedded server's data directory."""
