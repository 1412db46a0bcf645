"""JSON documents wdftriage reads from files the user gives (snapshot headers, layout profiles, ``--tmf-cache``
entries): every way ``json`` can refuse a document is one :class:`EvidenceError` naming the file and offset.

Besides malformed JSON (``JSONDecodeError``), ``json`` raises a plain ``ValueError`` for an integer of more digits
than Python converts (4,300) and ``RecursionError`` for nesting deeper than it reads; both are bad input too.
"""
from __future__ import annotations

import json

from parsers.errors import EvidenceError


def parse_json(text: str | bytes, source: str, what: str, offset: int | None = None):
    """The document ``text`` (bytes: UTF-8) holds; EvidenceError ("<what> is not JSON: <why>") when it holds none."""
    try:
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except json.JSONDecodeError as exc:
        why = f"{exc.msg} at character {exc.pos}"
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 at byte {exc.start}"
    except ValueError as exc:  # an integer past Python's digit limit
        why = str(exc).split(";")[0]
    except RecursionError:
        why = "nested deeper than can be read"
    raise EvidenceError(source, f"{what} is not JSON: {why}", offset=offset)
