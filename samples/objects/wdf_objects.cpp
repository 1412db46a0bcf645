// One instance of each declared type, so clang-cl /Z7 writes complete type records for all of them.
#include "wdf_objects.h"

FX_DRIVER_GLOBALS g_FxDriverGlobals;
FX_DUMP_DRIVER_INFO_ENTRY g_DumpDriverInfo[2];
FxLibraryGlobalsType FxLibraryGlobals;
FxDevice g_Device;
FxPkgPnp g_PkgPnp;
FxPkgIo g_PkgIo;
FxIoQueue g_Queue;
FxRequest g_Request;
IRP g_Irp;
WDF_TRIAGE_INFO g_WdfTriageInfo;

extern "C" int entry(void) { return 0; }
