"""Serving a harness's variant of the app as ``payintents serve`` serves the real one: uvicorn on
loopback, the app built by a factory in every worker, Dojo's error body for requests the HTTP
parser cannot read, and no uvicorn access log (the app logs its own)."""

from __future__ import annotations


def serve_variant(
    factory: str, port: int, workers: int, *, host: str = "127.0.0.1", log_level: str = "warning"
) -> None:
    """Serve ``factory`` (``module:function``) until stopped."""
    import uvicorn

    from payintents.web.http_protocol import DojoErrorHttpProtocol

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        http=DojoErrorHttpProtocol,
    )
