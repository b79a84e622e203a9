"""Errors a user can fix, reported as one line by the command-line entry points."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps


class ConfigError(ValueError):
    """A bad config value, a missing dataset or a bad file: the message names the problem and the fix."""


def find_config_error(error: BaseException | None) -> ConfigError | None:
    """The ConfigError behind ``error`` (Hydra's instantiate wraps constructor errors), if any."""
    while error is not None:
        if isinstance(error, ConfigError):
            return error
        error = error.__cause__ or error.__context__
    return None


def exit_on_config_error(main: Callable) -> Callable:
    """Turn a ConfigError anywhere in the chain into ``error: <message>`` on stderr and exit code 2."""

    @wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except Exception as error:
            config_error = find_config_error(error)
            if config_error is None:
                raise
            print(f"error: {config_error}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
