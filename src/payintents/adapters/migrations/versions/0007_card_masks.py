"""Stored card masks re-masked: the old ``number[:8] + "****" + number[-4:]`` showed a 12-digit
number whole and a 13-digit one but for a check digit (ADR 0018).

The old mask does not say how long the number was, so a stored one keeps only what is safe for the
shortest number it can have come from: 6 digits hidden from that length, the last ones shown first
(as ``domain.card`` does), never more than 2 leading and 4 trailing. ``52000000****1005`` cannot
come from fewer than 12 digits and becomes ``52**********1005``; ``41111112****2345`` may be an
11-digit number and becomes ``4***********2345``; ``50180000****0009`` may be ``501800009`` and
becomes ``*************009``. New masks have at least 6 ``*`` and are left
alone. Rows are read and written a page at a time, so a large table needs no more memory than a
page.

Downgrade changes nothing: hidden digits cannot come back.

Revision ID: 0007
Revises: 0006
"""

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_MASK = re.compile(r"^([^*]{0,8})\*{4}([^*]{0,4})$")
_PAGE = 500
_MIN_HIDDEN = 6


def upgrade() -> None:
    connection = op.get_bind()
    events = sa.table(
        "payment_events", sa.column("payment_intent_id"), sa.column("position"), sa.column("card")
    )
    intents = sa.table("payment_intents", sa.column("id"), sa.column("payment_details"))
    _remask(connection, events, [events.c.payment_intent_id, events.c.position], events.c.card, _card)
    _remask(connection, intents, [intents.c.id], intents.c.payment_details, _details)


def downgrade() -> None:
    pass


def _remask(
    connection: sa.Connection,
    table: sa.TableClause,
    keys: list[sa.ColumnClause[Any]],
    column: sa.ColumnClause[Any],
    remasked: Any,
) -> None:
    """Rewrite ``column`` (JSON text) wherever ``remasked`` changes it, in key order, a page of
    rows read and its changes written (one batch) at a time."""
    update = (
        sa.update(table)
        .where(*[key == sa.bindparam(f"key_{n}") for n, key in enumerate(keys)])
        .values({column.name: sa.bindparam("remasked")})
    )
    after: tuple[Any, ...] | None = None
    while True:
        query = sa.select(*keys, column).where(column.like("%****%")).order_by(*keys).limit(_PAGE)
        if after is not None:
            query = query.where(sa.tuple_(*keys) > sa.tuple_(*[sa.literal(v) for v in after]))
        rows = connection.execute(query).all()
        changes = []
        for *key, stored in rows:
            document = json.loads(stored)
            new = remasked(document)
            if new != document:
                change = {f"key_{n}": value for n, value in enumerate(key)}
                changes.append({**change, "remasked": json.dumps(new, separators=(",", ":"))})
        if changes:
            connection.execute(update, changes)
        if len(rows) < _PAGE:
            return
        after = tuple(rows[-1][: len(keys)])


def _details(details: Any) -> Any:
    if isinstance(details, dict) and isinstance(details.get("card"), dict):
        return {**details, "card": _card(details["card"])}
    return details


def _card(card: Any) -> Any:
    if not isinstance(card, dict) or not isinstance(card.get("cardNumber"), str):
        return card
    old = _OLD_MASK.match(card["cardNumber"])
    if old is None:
        return card
    first, last = old.groups()
    length = _shortest_length(first, last)
    visible = max(0, length - _MIN_HIDDEN)
    shown_last = min(4, visible, len(last))
    shown_first = min(2, visible - shown_last)
    hidden = len(card["cardNumber"]) - shown_first - shown_last
    number = first[:shown_first] + "*" * hidden + last[len(last) - shown_last :]
    remasked = {**card, "cardNumber": number}
    if "last4PAN" in card:
        remasked["last4PAN"] = last[len(last) - shown_last :]
    return remasked


def _shortest_length(first: str, last: str) -> int:
    """The fewest characters the old mask can have come from: under 8 the first part is all of it;
    under 12 the two parts overlap, so the end of the first is the start of the last."""
    if len(first) < 8:
        return len(first)
    for length in range(8, 12):
        if first[length - 4 :] == last[: 12 - length]:
            return length
    return 12
