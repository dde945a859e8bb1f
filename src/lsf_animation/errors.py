"""The one exception type users see."""


class LsfError(Exception):
    """A problem with the user's input or environment.

    The message says what is wrong and what to do about it. The CLI prints it as one line on
    stderr and exits with code 2, without a traceback.
    """
