"""The one error the stack raises: a user-facing message, printed without a traceback."""


class StackError(Exception):
    """Something the operator must fix; the message says what and how."""
