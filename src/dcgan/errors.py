"""Errors a user can act on, reported as one line by the command-line entry points."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps


class DCGANError(Exception):
    """Base of the errors whose message names the problem and the fix; ``exit_code`` for the CLI."""

    exit_code = 1


class ConfigError(DCGANError, ValueError):
    """A bad config value, a missing dataset or a bad file, found before training starts."""

    exit_code = 2


class DivergenceError(DCGANError, RuntimeError):
    """Training stopped: non-finite losses or weights, or a collapsed discriminator."""

    exit_code = 3


def find_user_error(error: BaseException | None) -> DCGANError | None:
    """The DCGANError behind ``error`` (Hydra's instantiate and Lightning wrap errors), if any."""
    while error is not None:
        if isinstance(error, DCGANError):
            return error
        error = error.__cause__ or error.__context__
    return None


def exit_on_config_error(main: Callable) -> Callable:
    """Turn a DCGANError anywhere in the chain into ``error: <message>`` on stderr and its exit code."""

    @wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except Exception as error:
            user_error = find_user_error(error)
            if user_error is None:
                raise
            print(f"error: {user_error}", file=sys.stderr)
            raise SystemExit(user_error.exit_code) from None

    return wrapper
