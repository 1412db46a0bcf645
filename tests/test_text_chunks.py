"""parsers.evidence.text_chunks: a text file read in pieces of whole lines gives the lines of the whole file,
whatever the piece size, line breaks (LF, CRLF, CR) and over-long lines (cut to their first ``longest``
characters, the rest of such a line skipped even across pieces)."""
from __future__ import annotations

import re

from hypothesis import given, settings, strategies as st

from parsers.evidence import text_chunks


def _expected(text: str, longest: int) -> list[str]:
    """The lines of the whole text (split as str.splitlines does), a LF/CRLF/CR line longer than ``longest`` cut
    to its first ``longest`` characters, read as a line of its own (what reading a line ``longest`` characters at
    most gives)."""
    lines = re.split(r"\r\n|\r|\n", text)
    last = lines.pop()  # after the last line break: a line without one, or nothing
    return [part for line in lines for part in
            ((line[:longest].splitlines() or [""]) if len(line) > longest else (line + "\n").splitlines())] + \
        ((last[:longest].splitlines() or [""]) if last else [])


def _read(pieces: list[str]) -> list[str]:
    """The lines the text reader makes of the pieces (parsers.logtext)."""
    return [line for piece in pieces for line in piece.splitlines() or [""]]


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(st.sampled_from(["\n", "\r\n", "\r", "\x0b", "é"]), st.text("ab", max_size=40)), max_size=40),
       size=st.integers(1, 24), longest=st.integers(1, 30), encoding=st.sampled_from(["utf-8", "utf-16"]))
def test_pieces_hold_the_lines_of_the_file(tmp_path_factory, parts, size, longest, encoding):
    text = "".join(parts)
    path = tmp_path_factory.mktemp("chunks") / "paste.txt"
    path.write_bytes(text.encode(encoding))  # (Python's utf-16 writes a BOM, which tells the reader)
    pieces = list(text_chunks(str(path), longest=longest, size=size))
    assert all(pieces)
    assert _read(pieces) == _expected(text, longest)


def test_a_line_longer_than_the_limit_is_cut_and_the_next_kept(tmp_path):
    path = tmp_path / "long.txt"
    path.write_bytes(b"first\r\n" + b"x" * 5000 + b"\r\nnext line\r\n")
    pieces = list(text_chunks(str(path), longest=100, size=64))
    assert _read(pieces) == ["first", "x" * 100, "next line"]
