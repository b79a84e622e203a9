"""Errors a user can act on, reported as one line by the command-line entry points."""

from __future__ import annotations

import difflib
import inspect
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from functools import wraps
from typing import Any

import hydra._internal.hydra
import hydra._internal.utils
from hydra.errors import (
    ConfigCompositionException,
    MissingConfigException,
    OverrideParseException,
    SearchPathException,
)


class DCGANError(Exception):
    """Base of the errors whose message names the problem and the fix; ``exit_code`` for the CLI."""

    exit_code = 1


class ConfigError(DCGANError, ValueError):
    """A bad config value, a missing dataset or a bad file, found before training starts."""

    exit_code = 2


class DivergenceError(DCGANError, RuntimeError):
    """Training stopped: non-finite losses or weights, or a collapsed discriminator."""

    exit_code = 3


class SaveError(DCGANError):
    """A checkpoint could not be written during training (a full disk, a folder made read-only): the previous
    one is kept."""


def whole_number(key: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; ConfigError naming ``key`` for anything else (``1.5``, ``abc``,
    ``true``, ``inf``), not a silent ``int()``."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value)
    if number is None or number < minimum:
        raise ConfigError(f"{key}={value} is invalid: use a whole number >= {minimum}")
    return number


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


# Hydra's errors about the command line itself: raised while composing the config, before the app runs.
COMMAND_LINE_ERRORS = (OverrideParseException, ConfigCompositionException, SearchPathException)


def hydra_message(error: Exception) -> str:
    """Hydra's message about a command line on one line, its suggestion kept: the options of a config group
    with the closest one first, ``+key=value`` for a key the config lacks."""
    text = str(error).split("Config search path:")[0]
    if isinstance(error, MissingConfigException) and error.options and error.missing_cfg_file:
        group, _, name = error.missing_cfg_file.rpartition("/")
        close = difflib.get_close_matches(name, error.options, n=1)
        hint = f"did you mean {group}={close[0]}? " if close else ""
        return f"{text.strip().splitlines()[0]}: {hint}options: {', '.join(error.options)}"
    message = " ".join(line.strip() for line in text.splitlines() if line.strip())
    if isinstance(error, OverrideParseException):
        message = f"{error.override}: {message}"
    cause = str(error.__cause__ or "").strip()
    return f"{message} ({cause.splitlines()[0]})" if cause else message


def _passes_through(error: BaseException, code) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code is code:
            return True
        traceback = traceback.tb_next
    return False


def _one_line(error: Exception, task_code) -> str | None:
    """The line to print for a user's error that Hydra would report over several lines, else None."""
    if isinstance(error, COMMAND_LINE_ERRORS):
        return hydra_message(error)
    if isinstance(error, OSError) and not _passes_through(error, task_code):  # Hydra making the run folder
        return f"cannot write the run folder ({error}): choose a writable one with hydra.run.dir=..."
    return None


@contextmanager
def _reported_in_one_line(task_code):
    """Hydra's ``run_and_report`` (which prints a user's errors over several lines and exits 1) with the
    errors of ``_one_line`` printed as ``error: <line>``, exit 2."""
    original = hydra._internal.utils.run_and_report

    def run_and_report(func):
        def attempt():
            try:
                return func()
            except Exception as error:
                line = _one_line(error, task_code)
                if line is None:
                    raise
                print(f"error: {line}", file=sys.stderr)
                raise SystemExit(2) from None

        return original(attempt)

    modules = (hydra._internal.utils, hydra._internal.hydra)
    for module in modules:
        module.run_and_report = run_and_report
    try:
        yield run_and_report
    finally:
        for module in modules:
            module.run_and_report = original


def run(main: Callable[[], Any]) -> Any:
    """Call a ``@hydra.main`` entry point so that every user error is one line and exit 2: Hydra's errors
    about the command line (an unknown key, a config group option that does not exist, a bad override) too,
    which happen before the app runs. ``HYDRA_FULL_ERROR=1`` keeps Hydra's own reports."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        return main()
    with _reported_in_one_line(inspect.unwrap(main).__code__) as report:
        return report(main)
