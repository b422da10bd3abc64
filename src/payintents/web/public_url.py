"""The server's own address in absolute links and redirects (``paymentLink``, ``challengeUrl``,
the dashboard's trailing-slash redirect), and whether it is served over https.

With PAYINTENTS_PUBLIC_URL set (``https://pay.example.com``), every absolute link starts with it
and the Host header a client sends changes nothing. Without it, links are built from the request
as a local developer expects (``http://127.0.0.1:8000/checkout/…``), and redirects carry a path
only, so that a forged Host header cannot send a browser elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request


def parse_public_url(text: str) -> str | None:
    """``http(s)://host[:port]`` without a trailing slash, or None for an empty setting;
    ValueError for anything else (a path, a query, credentials)."""
    text = text.strip()
    if not text:
        return None
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 (reading it checks it: a port that is not a number raises)
    except ValueError:
        raise ValueError(f"has a malformed port: {text!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL with a host, not {text!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"must name only a scheme, a host and a port, not {text!r}")
    return f"{parts.scheme}://{parts.netloc}"


def configured_public_url(request: Request) -> str | None:
    """PAYINTENTS_PUBLIC_URL as the app was built with it (None when unset)."""
    public_url = getattr(request.app.state, "public_url", None)
    return public_url if isinstance(public_url, str) else None


def base_url(request: Request) -> str:
    """Where this server is reached, without a trailing slash: the public URL, else the request's
    own scheme and Host header (a local developer's ``http://127.0.0.1:8000``). Every absolute
    link starts with it: ``f"{base_url(request)}/checkout/{intent_id}"``."""
    return configured_public_url(request) or str(request.base_url).rstrip("/")


def redirect_location(request: Request, path: str) -> str:
    """A Location header for ``path``: absolute from the public URL when set, else the bare path
    (a browser resolves it against the address it used, whatever Host header it sent)."""
    public_url = configured_public_url(request)
    return public_url + path if public_url else path


def served_over_https(request: Request) -> bool:
    """The public URL is https, or this request came over TLS (directly or, by its
    X-Forwarded-Proto header, through a proxy)."""
    public_url = configured_public_url(request)
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return bool(public_url and public_url.startswith("https://")) or "https" in (
        request.url.scheme,
        forwarded,
    )
