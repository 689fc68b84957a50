"""Our exception hierarchy: one base class so the CLI can turn any of them into a readable exit."""


class BotError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(BotError):
    """The config file is missing or invalid; the message names the file, the entry and the field."""


class FetchError(BotError):
    """A source could not be fetched or parsed; caught at the source boundary and recorded."""


class StoreError(BotError):
    """The database is unusable (wrong schema version, corrupt file)."""


class UsageError(BotError):
    """A command was given arguments it cannot work with; the CLI prints the message and exits 2."""
