"""The grokscope error family: every user-facing failure is one of these, with a one-line message."""


class GrokscopeError(Exception):
    """Base class; the CLI prints the message as one red line and exits with code 2."""


class ConfigError(GrokscopeError):
    """A config key, type or value is wrong."""


class RunDirError(GrokscopeError):
    """A run directory is missing, corrupt, or holds a different run."""


class WriteRefused(RunDirError):
    """The file system refused a write (full disk, read-only, no permission): not one run's fault,
    so a sweep stops instead of marking run after run failed."""

    def __init__(self, path: object, reason: str, message: str):
        super().__init__(message)
        self.path, self.reason = path, reason

    def __reduce__(self):  # crosses process boundaries (pool and Ray workers) intact
        return type(self), (self.path, self.reason, str(self))


class TrainingDiverged(GrokscopeError):
    """The loss became NaN or infinite."""
