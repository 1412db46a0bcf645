#!/bin/sh
# Rebuild wdf_objects.pdb and wdf_objects_x86.pdb (type information of the framework objects declared in
# wdf_objects.h, for x64 and x86) with a real toolchain (Debian packages clang, lld): clang-cl /Z7 writes
# CodeView type records, lld-link /DEBUG the PDB. `build.sh DIR` writes both into DIR instead.
# /clang:-fstandalone-debug keeps the complete type of every class used, whatever its constructors.
# tests/test_pdb_types.py rebuilds it when clang-cl is present and checks the result gives the same layout.
set -e
cd "$(dirname "$0")"
out="${1:-.}"
work=.build  # a fixed relative path: object and PDB paths inside the PDB stay the same on every rebuild
rm -rf "$work" && mkdir "$work"
trap 'rm -rf "$work"' EXIT
build() {  # target triple, lld-link machine, output name
    clang --driver-mode=cl --target="$1" /Z7 /Brepro /GR- /clang:-fstandalone-debug /c wdf_objects.cpp /Fo"$work/a.obj"
    lld-link /DEBUG /Brepro /NODEFAULTLIB /MACHINE:"$2" /ENTRY:entry /SUBSYSTEM:native /OUT:"$work/a.sys" \
        /PDB:"$work/objects.pdb" "$work/a.obj"
    cp "$work/objects.pdb" "$out/$3"
}
build x86_64-pc-windows-msvc X64 wdf_objects.pdb
build i686-pc-windows-msvc X86 wdf_objects_x86.pdb
