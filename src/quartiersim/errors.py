"""Errors for bad input: each names the file, the field and what was expected.

The command line turns an :class:`InputError` into one message on standard error and exit status 2.
"""

from __future__ import annotations

from pathlib import Path


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
            message += f", got {got!r}"
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
        lines += [f"  - field '{p.field}': expected {p.expected}" + (f", got {p.got!r}" if p.got is not None
                                                                    else "") for p in problems]
        ValueError.__init__(self, "\n".join(lines))

    def __reduce__(self) -> tuple:
        return (type(self), (self.source, self.problems))
