#!/bin/sh
# Rebuild wpp_annotations.pdb with a real toolchain (Debian packages clang, lld, llvm):
#   clang-cl /Z7 -> lld-link /DEBUG (lld 14 turns S_ANNOTATION into S_SKIP) -> llvm-pdbutil pdb2yaml ->
#   S_ANNOTATION records put back -> llvm-pdbutil yaml2pdb. `llvm-pdbutil dump --symbols` then lists them.
set -e
cd "$(dirname "$0")"
work=.build  # a fixed relative path: object and PDB paths inside the PDB stay the same on every rebuild
rm -rf "$work" && mkdir "$work"
trap 'rm -rf "$work"' EXIT
python3 make_source.py
clang --driver-mode=cl --target=x86_64-pc-windows-msvc /Z7 /Brepro /c wpp_annotations.c /Fo"$work/a.obj"
lld-link /DEBUG /Brepro /NODEFAULTLIB /ENTRY:entry /SUBSYSTEM:native /OUT:"$work/a.sys" /PDB:"$work/lld.pdb" "$work/a.obj"
llvm-pdbutil pdb2yaml -all "$work/lld.pdb" > "$work/lld.yaml"
python3 restore_annotations.py "$work/lld.yaml" wpp_annotations.yaml wpp_annotations.c
llvm-pdbutil yaml2pdb -pdb=wpp_annotations.pdb wpp_annotations.yaml
llvm-pdbutil dump --symbols wpp_annotations.pdb | grep -c S_ANNOTATION
