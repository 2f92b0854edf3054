"""Expected failures: bad input (each names the file, the field and what was expected) and failed commands.

The command line turns each into one message on standard error, without a traceback:

* :class:`InputError`: a file, value or argument that cannot be used; exit status 2, nothing was written.
* :class:`CommandError`: a command that could not run or stopped (a store another process holds, a scheduler
  that went away, a full disk, a damaged store file); it names the file or address and what to do. Exit status
  2 when it was refused before anything was done, 1 when it failed while working (what finished is kept).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def _shown(value: object) -> str:
    """A value as a person would write it in the file: dates and numbers plain, text in quotes."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return repr(value)


class InputError(ValueError):
    """A scenario, data or experiment file (or an argument) that cannot be used.

    Args:
        source: the file (or ``"argument"``/``"override"``) the bad value came from.
        field: the field, column or key that is wrong (with a line number where one helps).
        expected: what would have been accepted.
        got: the value that was found, if any.

    """

    def __init__(self, source: str | Path, field: str, expected: str, got: object = None):
        self.source = str(source)
        self.field = field
        self.expected = expected
        self.got = got
        message = f"{self.source}: field '{field}': expected {expected}"
        if got is not None:
            message += f", got {_shown(got)}"
        super().__init__(message)

    def __reduce__(self) -> tuple:
        # rebuilt from its parts when it crosses a process boundary (a worker's failed run)
        return (type(self), (self.source, self.field, self.expected, self.got))


class InputErrors(InputError):
    """Several problems in one file, reported at once."""

    def __init__(self, source: str | Path, problems: list[InputError]):
        self.problems = problems
        self.source = str(source)
        self.field = problems[0].field if problems else ""
        self.expected = problems[0].expected if problems else ""
        self.got = None
        lines = [f"{self.source}: {len(problems)} problem(s):"]
        lines += [f"  - field '{p.field}': expected {p.expected}" + (f", got {_shown(p.got)}" if p.got is not None
                                                                    else "") for p in problems]
        ValueError.__init__(self, "\n".join(lines))

    def __reduce__(self) -> tuple:
        return (type(self), (self.source, self.problems))


class CommandError(Exception):
    """A command that could not run or stopped for a reason outside the program: says where and what to do.

    Args:
        where: the file, directory or address concerned.
        problem: what went wrong.
        todo: what the user can do about it.
        exit_status: 2 when refused before anything was done, 1 when the command failed while working.

    """

    def __init__(self, where: str | Path, problem: str, todo: str, exit_status: int = 1):
        self.where = str(where)
        self.problem = problem
        self.todo = todo
        self.exit_status = exit_status
        super().__init__(f"{self.where}: {problem}; {todo}")

    def __reduce__(self) -> tuple:
        return (type(self), (self.where, self.problem, self.todo, self.exit_status))
