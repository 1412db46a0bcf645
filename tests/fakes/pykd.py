"""A fake ``pykd`` for tests: the functions analyzer/debugger.py uses, over a memory image.

Same names and argument order as pykd 0.3 (loadBytes(addr, count) -> list of ints, is64bitSystem(),
isDumpAnalyzing(), bugCheckData() with code/arg1..arg4, dprintln(text)); memory outside the image raises
like pykd's MemoryException."""
from __future__ import annotations

from types import SimpleNamespace

from parsers.errors import TargetReadError
from parsers.memory import ImageMemory

memory = ImageMemory({})
bugcheck = None
output: list[str] = []


class MemoryException(Exception):
    pass


def loadBytes(address, count):  # noqa: N802 - pykd's name
    try:
        return list(memory.read(address, count))
    except TargetReadError as exc:
        raise MemoryException(f"Memory exception at 0x{address:x}") from exc


def is64bitSystem():  # noqa: N802
    return memory.pointer_size == 8


def isDumpAnalyzing():  # noqa: N802
    return bugcheck is not None


def bugCheckData():  # noqa: N802
    code, params = bugcheck
    return SimpleNamespace(code=code, arg1=params[0], arg2=params[1], arg3=params[2], arg4=params[3])


def dprintln(text, dml=False):
    output.append(str(text))
