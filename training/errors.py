"""Errors that mean the user asked for something that cannot be done as asked."""


class InputError(ValueError):
    """Bad input from the user: an option, a data directory or a data file. The message is one
    sentence that says what to fix; the CLI prints it and exits with status 2."""


class Cancelled(BaseException):
    """The run was asked to stop (SIGTERM or Ctrl-C). A BaseException, so that no library's
    ``except Exception`` swallows it."""
