"""A fake ``pykd`` for tests, written from pykd's own module definition (github.com/ivellioscolin/pykd,
commit 98980c4), over a memory image. Only the functions below exist; anything else pykd defines is
absent on purpose, so code that calls something pykd does not have fails here too.

What each name follows in that source:

- exceptions (pykd/dbgexcept.h ``registerExceptions``): ``DbgException`` ("Pykd base exception class"),
  ``MemoryException(DbgException)``, ``SymbolException(DbgException)``, ``TypeException(SymbolException)``;
  ``dbgExceptionTranslate`` raises each with the message of kdlib's exception as its only argument.
- ``loadBytes(offset, count, phyAddr=False)`` -> list of unsigned ints (pymod.cpp: ``python::def("loadBytes",
  ..., loadBytes_(python::args("offset", "count", "phyAddr"), "... return it as list of unsigned bytes"))``;
  pymemaccess.h ``python::list loadBytes(MEMOFFSET_64 offset, unsigned long count, bool phyAddr = false)``);
  unreadable memory raises ``MemoryException``.
- ``ptrPtr(offset)`` -> int (pymemaccess.h, a pointer of the target's size).
- ``is64bitSystem()`` -> bool, ``ptrSize()`` -> int (pymod.cpp "system properties", pydbgeng.h).
- ``isDumpAnalyzing()`` -> bool, ``isKernelDebugging()`` -> bool (pymod.cpp, pydbgeng.h).
- ``bugCheckData()`` -> tuple ``(code, arg1, arg2, arg3, arg4)`` (pymod.cpp doc string; pydbgeng.cpp
  ``getBugCheckData`` appends ``crashInfo.code`` then ``paramterCount`` parameters and returns
  ``python::tuple``).
- ``getOffset(name)`` -> int, positional only (pymod.cpp ``python::def("getOffset", pykd::getSymbolOffset, ...)``
  with no argument names; pytypeinfo.h ``getSymbolOffset(const std::wstring &name)``); an unknown symbol
  raises ``SymbolException`` (kdlib's symbol lookup error as translated by dbgexcept.h).
- ``dprint(str, dml=False)``, ``dprintln(str, dml=False)`` (pymod.cpp ``dprint_/dprintln_(python::args("str",
  "dml"))``; pydbgio.h: ``dprint`` writes to ``sys.stdout`` (``writedml`` when dml), ``dprintln`` adds
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
