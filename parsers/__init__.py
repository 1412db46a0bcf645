"""Evidence parsers: bytes and text in, typed records out.

Nothing in this package analyses or renders; it only turns evidence (IFR ring buffers, TMF files,
formatted log text, PDBs, dumps) into the typed records of :mod:`parsers.records`.
"""
