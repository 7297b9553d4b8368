"""The load generator: a separate process that runs one job and reports what it measured.

It runs apart from the server under test so the two never share an event loop, and it
measures its own CPU so a run it could not drive hard enough is recognised and voided.
"""
