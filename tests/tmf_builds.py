"""Sample TMFs of framework builds other than the catalog's, for recognition tests."""
from __future__ import annotations


def other_build(source_file: str, after_line: int):
    """The sample TMF of a framework build with one more trace call in ``source_file`` after ``after_line``:
    tracewpp numbers every later call site of that file one higher than the catalog's line order says."""
    from samples.tmf_writer import SampleTmf

    class OtherBuild(SampleTmf):
        def key(self, entry):
            if entry.id not in self.ids:
                guid, number = super().key(entry)
                file, line = entry.id.split(":")
                if file == source_file and int(line) > after_line:
                    self.ids[entry.id] = (guid, number + 1)
            return self.ids[entry.id]

    return OtherBuild
