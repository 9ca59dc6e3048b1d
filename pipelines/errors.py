"""Errors a person acts on: each says which source failed and which setting to check."""


class SourceUnavailable(RuntimeError):
    """A source or sink could not be reached or refused us; the message names the setting."""


class ConfigurationError(RuntimeError):
    """The saved blocks or parameters do not fit together."""
