"""Free-text search over Chinese text by overlapping character bigrams.

Chinese has no spaces and the usual query is two characters long (盗窃, 纠纷), too short for
trigram indexes. Each incident keeps ``search_text``: every run of CJK characters as overlapping
bigrams, and other words lower-cased. SQLite indexes it with FTS5 and PostgreSQL with a GIN index
on ``to_tsvector('simple', search_text)``; a query becomes a phrase of its own bigrams, so
"入室盗窃" matches exactly that sequence. One-character queries fall back to LIKE.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]+")
_TOKEN_SPLIT = re.compile(f"([{_CJK_CLASS}]+)|([0-9A-Za-z]+)")


def tokens(text: str) -> list[str]:
    """Search tokens of ``text``: CJK bigrams (a lone character stays itself) and words."""
    out: list[str] = []
    for cjk, word in _TOKEN_SPLIT.findall(text or ""):
        if not cjk:
            out.append(word.lower())
        elif len(cjk) == 1:
            out.append(cjk)
        else:
            out.extend(map(operator.add, cjk, cjk[1:]))
    return out


@lru_cache(maxsize=65_536)
def _token_text(text: str) -> str:
    """``text``'s tokens joined (remembered: an export's call types, districts and beats and
    many of its addresses repeat from row to row)."""
    return " ".join(tokens(text))


def search_text(*parts: str | None) -> str:
    """The stored token text of an incident's description and address."""
    return " ".join([joined for p in parts if p and (joined := _token_text(p))])


def query_tokens(query: str) -> list[list[str]]:
    """A query as phrases (one per whitespace-separated term) of tokens; all must match."""
    return [tokens(term) for term in query.split() if tokens(term)]


def needs_like(query: str) -> bool:
    """True when some term is a single CJK character (bigram indexes cannot find it)."""
    return any(len(t) == 1 and _CJK.fullmatch(t) for term in query_tokens(query) for t in term)


def fts5_query(query: str) -> str:
    """An FTS5 MATCH expression: each term a quoted phrase of its tokens, ANDed."""
    phrases = []
    for term in query_tokens(query):
        phrases.append('"' + " ".join(t.replace('"', "") for t in term) + '"')
    return " AND ".join(phrases)


def tsquery_text(query: str) -> str:
    """A PostgreSQL to_tsquery('simple', …) expression: phrases with <-> joined by &."""
    phrases = []
    for term in query_tokens(query):
        safe = [re.sub(r"[^\w]", "", t) for t in term]
        safe = [t for t in safe if t]
        if safe:
            phrases.append("(" + " <-> ".join(safe) + ")")
    return " & ".join(phrases)


def index_new(connection: Connection, ids: Sequence[int]) -> None:
    """Add just-inserted incidents to SQLite's FTS5 index in one statement (PostgreSQL's GIN
    index follows the table by itself). Runs in the inserting transaction."""
    if not ids or connection.dialect.name != "sqlite":
        return
    connection.exec_driver_sql(
        "INSERT INTO incident_fts(rowid, search_text) SELECT id, search_text FROM incident "
        "WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(ids)),),
    )


_PENDING = "qingzhi_fts_pending"


def index_at_commit(session: Session, ids: Sequence[int]) -> None:
    """``index_new`` for ``ids`` as the last step of ``session``'s transaction (or savepoint):
    one statement for all the calls of a group commit, and in ``Database.write_each`` a step of
    the commit thread, beside the next batch's preparation. Ids whose rows were rolled back
    with a savepoint match nothing; an id given twice is indexed once."""
    session.info.setdefault(_PENDING, set()).update(ids)


@event.listens_for(Session, "before_commit")
def _index_pending(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids:
        index_new(session.connection(), sorted(ids))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    # Only when the whole transaction goes: ids of a savepoint rolled back match no row.
    if session.get_nested_transaction() is None:
        session.info.pop(_PENDING, None)
