"""The HTTP/1.1 protocol ``payintents serve`` speaks: uvicorn's httptools one, except for requests
its parser cannot read (a header name with a ``;``, a Content-Length that is not a number, …).

uvicorn answers those itself, before any route runs, with a plain-text 400. Every other bad input
gets Dojo's error body, so these get it too: the same 400, as JSON, with a traceId. The connection
is closed afterwards, as uvicorn does, since the rest of the stream cannot be trusted.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from payintents.web.problems import new_trace_id, problem_response

MALFORMED_DETAIL = "The request is not valid HTTP/1.1: a header or the message framing is malformed."


class DojoErrorHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Dojo's error body for requests it cannot parse."""

    def send_400_response(self, msg: str) -> None:
        problem = problem_response(400, new_trace_id(), detail=MALFORMED_DETAIL)
        lines = [b"HTTP/1.1 400 Bad Request"]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [
            b"content-type: application/json",
            b"content-length: " + str(len(problem.body)).encode("ascii"),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + bytes(problem.body))
        self.transport.close()
