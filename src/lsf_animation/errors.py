"""The one exception type users see, and how its messages list names."""

from collections.abc import Iterable


class LsfError(Exception):
    """A problem with the user's input or environment.

    The message says what is wrong and what to do about it. The CLI prints it as one line on
    stderr and exits with code 2, without a traceback.
    """


def short_list(items: Iterable[str], limit: int = 12) -> str:
    """Sorted items joined by commas for a message, the first `limit` of them, then how many
    there are in all ("none" when there are none)."""
    names = sorted(items)
    if not names:
        return "none"
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
