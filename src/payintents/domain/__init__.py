"""The pure core: money, the payment-intent state machine, refunds and idempotency decisions.

Nothing here reads the clock, randomness, the environment or any I/O.
"""
