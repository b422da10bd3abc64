"""A real ``payintents serve`` on this machine, for the test suite and for ``payintents bench``.

The one home of what both need to run the server as a separate process: a free loopback port,
the ``serve`` command line, the process's start and graceful stop (``processes``), the wait until
it answers with a deadline that grows on a busy machine (``readiness``), and throw-away databases
(``databases``). It lives outside ``benchmark/`` so that the tests depend on it, not on the
benchmark; it imports nothing of the server itself but the database URL normaliser.
"""
