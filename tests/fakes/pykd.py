"""A fake ``pykd`` for tests, written from pykd's own module definition (github.com/ivellioscolin/pykd,
commit 98980c4, and the kdlibcpp it wraps), over a memory image. Only the functions below exist; anything else pykd defines is
absent on purpose, so code that calls something pykd does not have fails here too.

What each name follows in that source:

- exceptions (pykd/dbgexcept.h:142-147 ``registerExceptions``): ``DbgException`` ("Pykd base exception class"),
  ``MemoryException(DbgException)``, ``SymbolException(DbgException)``, ``TypeException(SymbolException)``;
  ``dbgExceptionTranslate`` (dbgexcept.h:82) raises each with the message of kdlib's exception as its only argument.
- ``loadBytes(offset, count, phyAddr=False)`` -> list of unsigned ints (pymod.cpp:345: ``python::def("loadBytes",
  ..., loadBytes_(python::args("offset", "count", "phyAddr"), "... return it as list of unsigned bytes"))``;
  pymemaccess.h:165 ``python::list loadBytes(MEMOFFSET_64 offset, unsigned long count, bool phyAddr = false)``);
  unreadable memory raises ``MemoryException``.
- ``ptrPtr(offset)`` -> int (pymod.cpp:404, pymemaccess.h:227: a pointer of the target's size).
- ``is64bitSystem()`` -> bool, ``ptrSize()`` -> int (pymod.cpp:259-262, pydbgeng.h:387-398).
- ``isDumpAnalyzing()`` -> bool, ``isKernelDebugging()`` -> bool (pymod.cpp:185-188, pydbgeng.h:92-103).
- ``bugCheckData()`` -> tuple ``(code, arg1, arg2, arg3, arg4)`` (pymod.cpp:271-273 doc string; pydbgeng.cpp:179-197
  ``getBugCheckData`` appends ``crashInfo.code`` then ``paramterCount`` parameters and returns
  ``python::tuple``; kdlib's ``getSystemCrashInfo`` (kdlibcpp kdlib/source/win/dbgeng.cpp:930-947) always
  sets 4 parameters and throws ``DbgEngException``, a ``DbgException``, when ``ReadBugCheckData`` fails).
- ``getOffset(name)`` -> int, positional only (pymod.cpp:422 ``python::def("getOffset", pykd::getSymbolOffset, ...)``
  with no argument names; pytypeinfo.h:12 ``getSymbolOffset(const std::wstring &name)``); an unknown symbol
  raises ``SymbolException`` (kdlibcpp kdlib/source/typeinfo.cpp:236 ``getSymbolOffset`` -> the DIA loader's
  ``throw SymbolException(L"symbol not found")``, kdlib/source/dia/diaload.cpp:345).
- ``dprint(str, dml=False)``, ``dprintln(str, dml=False)`` (pymod.cpp:47-48, 234-237 ``dprint_/dprintln_(python::args("str",
  "dml"))``; pydbgio.h:12-27: ``dprint`` writes to ``sys.stdout`` (``writedml`` when dml), ``dprintln`` adds
  ``"\\n"``). The fake keeps what was printed in ``output`` (one string per call, as written) besides.

Test state: ``memory`` (a parsers.memory.ImageMemory), ``bugcheck`` (a 5-tuple or None), ``symbols``
({name: address}), ``output``; a test running the debugger entry point in a child process sets
``WDFTRIAGE_FAKE_PYKD_IMAGE=ADDRESS:FILE`` to start with that file's bytes at that address.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from parsers.errors import TargetReadError
from parsers.memory import ImageMemory

memory = ImageMemory({})
if os.environ.get("WDFTRIAGE_FAKE_PYKD_IMAGE"):
    _at, _file = os.environ["WDFTRIAGE_FAKE_PYKD_IMAGE"].split(":", 1)
    memory = ImageMemory({int(_at, 16): Path(_file).read_bytes()})
bugcheck: tuple | None = None
symbols: dict[str, int] = {}
output: list[str] = []


class DbgException(Exception):
    """Pykd base exception class"""


class MemoryException(DbgException):
    """Target memory access exception class"""


class SymbolException(DbgException):
    """Symbol exception"""


class TypeException(SymbolException):
    """type exception"""


def loadBytes(offset, count, phyAddr=False):  # noqa: N802,N803 - pykd's names
    if phyAddr:
        raise MemoryException(f"physical memory at 0x{offset:x} is not in the image")
    try:
        data = memory.read(offset, count)
    except TargetReadError:
        raise MemoryException(f"Memory exception at 0x{offset:x}") from None
    if len(data) < count:  # kdlib reads the whole block or fails
        raise MemoryException(f"Memory exception at 0x{offset + len(data):x}")
    return list(data)


def ptrSize():  # noqa: N802
    return memory.pointer_size


def ptrPtr(offset):  # noqa: N802
    return int.from_bytes(bytes(loadBytes(offset, ptrSize())), "little")


def is64bitSystem():  # noqa: N802
    return memory.pointer_size == 8


def isDumpAnalyzing():  # noqa: N802
    return bugcheck is not None


def isKernelDebugging():  # noqa: N802
    return True


def bugCheckData():  # noqa: N802
    if bugcheck is None:
        raise DbgException("failed to get bugcheck data")
    return tuple(bugcheck)


def getOffset(name, /):  # noqa: N802
    try:
        return symbols[name]
    except KeyError:
        raise SymbolException(f"{name} symbol is not found") from None


def dprint(str, dml=False):  # noqa: A002 - pykd's argument name
    output.append(str)
    sys.stdout.write(str)


def dprintln(str, dml=False):  # noqa: A002
    dprint(str + "\n", dml)
