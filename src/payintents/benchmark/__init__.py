"""``payintents bench``: refund throughput and latency over HTTP, beside the bare-SQL ceiling.

The package drives a real ``payintents serve`` from a separate load process on 127.0.0.1
(``load``), measures the tightest form of the same writes straight against the database
(``ceiling``), can pre-load a large history (``history``) and reports both (``report``).
"""
