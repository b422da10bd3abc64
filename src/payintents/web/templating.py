"""How the server writes HTML: Jinja2 templates under ``web/templates`` (one folder per set of
pages: the dashboard, the sandbox checkout), autoescaped, money written one way everywhere, and
the security headers every page is sent with."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from payintents.web.amounts import format_money

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def environment(folder: str) -> Environment:
    """The templates of one folder; ``{{ value | money(currency) }}`` writes ``£12.34``."""
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR / folder),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["money"] = format_money
    return templates


def security_headers(*form_targets: str) -> dict[str, str]:
    """A strict Content-Security-Policy (script and style from this server only, no framing, no
    plugins), no sniffing, no caching. Forms post here only, plus ``form_targets`` (origins): a
    browser applies ``form-action`` to the redirect that answers a form too."""
    form_action = " ".join(("'self'", *form_targets))
    return {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
