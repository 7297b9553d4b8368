"""The operator's commands besides `serve`: `token`, `send`, `tail`, `check-config`,
`openapi` and `reencrypt`.

Each module adds its sub-command to the parser and runs it; what can be pure is (building a
provider's signed request, formatting an event line, masking settings). A problem the user
can fix is a `CommandError`: one line on stderr and exit status 2, like `serve`.
"""


class CommandError(Exception):
    """A command could not do its job; the message is one printable line."""
