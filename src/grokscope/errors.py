"""The grokscope error family: every user-facing failure is one of these, with a one-line message."""


class GrokscopeError(Exception):
    """Base class; the CLI prints the message as one red line and exits with code 2."""


class ConfigError(GrokscopeError):
    """A config key, type or value is wrong."""


class RunDirError(GrokscopeError):
    """A run directory is missing, corrupt, or holds a different run."""


class TrainingDiverged(GrokscopeError):
    """The loss became NaN or infinite."""
