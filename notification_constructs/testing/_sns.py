"""Placeholder: being written (see the sandbox design)."""


def install(state):  # type: ignore[no-untyped-def]
    pass
