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

// Not a framework type: 5000 members are more than one LF_FIELDLIST record holds (0xFF00 bytes), so the
// compiler continues the list in further records linked by LF_INDEX, as it does for very large classes.
#define M(n) int m_##n;
#define D(a) M(a##0) M(a##1) M(a##2) M(a##3) M(a##4) M(a##5) M(a##6) M(a##7) M(a##8) M(a##9)
#define C(a) D(a##0) D(a##1) D(a##2) D(a##3) D(a##4) D(a##5) D(a##6) D(a##7) D(a##8) D(a##9)
#define B(a) C(a##0) C(a##1) C(a##2) C(a##3) C(a##4) C(a##5) C(a##6) C(a##7) C(a##8) C(a##9)
struct LongFieldList { B(1) B(2) B(3) B(4) B(5) };
LongFieldList g_LongFieldList;

extern "C" int entry(void) { return 0; }
