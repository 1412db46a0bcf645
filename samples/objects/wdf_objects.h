/* Declarations of the KMDF framework objects wdftriage walks, written for wdftriage's sample PDB.
 *
 * Member names and their declaration order follow the MIT-licensed framework source
 * (github.com/microsoft/Windows-Driver-Frameworks, src/framework/shared/inc/private/common/: fxobject.hpp,
 * fxnonpagedobject.hpp, fxdevice.hpp, fxpackage.hpp, fxpkgio.hpp, fxpkgpnp.hpp, fxeventqueue.hpp,
 * fx*statemachine.hpp, fxioqueue.hpp, fxirpqueue.hpp, fxrequestbase.hpp, fxrequest.hpp, fxglobals.h;
 * src/publicinc/wdf/umdf/2.33/wdftriage.h). Only the leading members and the ones wdftriage reads are
 * declared; where members in between are left out, a comment says so, so offsets here are this sample's,
 * not a Windows build's. Types of members wdftriage does not read are simplified (locks and events as opaque
 * byte arrays of their x64 size). This file is not Windows source: it is a layout description for tests.
 */
typedef unsigned char UCHAR, BOOLEAN, BYTE;
typedef char CHAR, CCHAR;
typedef unsigned short USHORT, WDFTYPE;
typedef short SHORT, CSHORT;
typedef long LONG;
typedef unsigned long ULONG;
#ifdef _WIN64
typedef unsigned long long ULONG_PTR;
#define IRP_TAIL 0x78
#else
typedef unsigned long ULONG_PTR;
#define IRP_TAIL 0x40
#endif
typedef void *PVOID;

typedef struct _LIST_ENTRY { struct _LIST_ENTRY *Flink; struct _LIST_ENTRY *Blink; } LIST_ENTRY;
typedef struct _SINGLE_LIST_ENTRY { struct _SINGLE_LIST_ENTRY *Next; } SINGLE_LIST_ENTRY;
typedef struct _MxLock { ULONG_PTR Lock; UCHAR OldIrql; } MxLock;          /* KSPIN_LOCK + KIRQL */
typedef struct _MxEvent { UCHAR Event[2 * sizeof(void *) + 8]; } MxEvent;  /* KEVENT: 0x18 on x64, 0x10 on x86 */
typedef struct _MxDeviceObject { struct _DEVICE_OBJECT *m_DeviceObject; } MxDeviceObject;

/* wdm.h: the IRP fields before Tail are not read by wdftriage; Tail.Overlay where Windows has it (x64 0x78, x86 0x40) */
typedef struct _IRP {
    CSHORT Type;
    USHORT Size;
    UCHAR FieldsBeforeTail[IRP_TAIL - 4];
    union {
        struct {
            PVOID DriverContext[4];
            PVOID Thread;
            CHAR *AuxiliaryBuffer;
            struct {
                LIST_ENTRY ListEntry;
                union { struct _IO_STACK_LOCATION *CurrentStackLocation; ULONG PacketType; };
            };
            PVOID OriginalFileObject;
        } Overlay;
    } Tail;
} IRP, *PIRP;

typedef struct _IO_CSQ_IRP_CONTEXT { ULONG Type; PIRP Irp; PVOID Csq; } IO_CSQ_IRP_CONTEXT, MdIoCsqIrpContext;

enum WDF_DEVICE_PNP_STATE { WdfDevStatePnpInvalid = 0, WdfDevStatePnpObjectCreated = 0x100, WdfDevStatePnpStarted = 0x119 };
enum WDF_DEVICE_POWER_STATE { WdfDevStatePowerInvalid = 0, WdfDevStatePowerObjectCreated = 0x300, WdfDevStatePowerD0 = 0x307 };
enum WDF_DEVICE_POWER_POLICY_STATE { WdfDevStatePwrPolInvalid = 0, WdfDevStatePwrPolObjectCreated = 0x500 };
enum FXIOQUEUE_POWER_STATE {
    FxIoQueuePowerInvalid = 0, FxIoQueuePowerOn, FxIoQueuePowerOff, FxIoQueuePowerStartingTransition,
    FxIoQueuePowerStopping, FxIoQueuePowerStoppingNotifyingDriver, FxIoQueuePowerStoppingDriverNotified,
    FxIoQueuePowerPurge, FxIoQueuePowerPurgeNotifyingDriver, FxIoQueuePowerPurgeDriverNotified,
    FxIoQueuePowerRestarting, FxIoQueuePowerRestartingNotifyingDriver, FxIoQueuePowerRestartingDriverNotified,
    FxIoQueuePowerLast
};
enum WDF_IO_QUEUE_DISPATCH_TYPE { WdfIoQueueDispatchInvalid = 0, WdfIoQueueDispatchSequential, WdfIoQueueDispatchParallel, WdfIoQueueDispatchManual };
enum FX_IO_QUEUE_STATE { FxIoQueueAcceptRequests = 0x1, FxIoQueueDispatchRequests = 0x2, FxIoQueueShutdown = 0x10000 };
enum FxIoQueueNodeType { FxIoQueueNodeTypeInvalid = 0, FxIoQueueNodeTypeQueue, FxIoQueueNodeTypeBookmark };

struct FX_DRIVER_GLOBALS;
class FxDevice;
class FxPkgPnp;
class FxIoQueue;

typedef struct _WDF_DRIVER_GLOBALS {
    PVOID Driver;
    ULONG DriverFlags;
    ULONG DriverTag;
    CHAR DriverName[32];
    BOOLEAN DisplaceDriverUnload;
} WDF_DRIVER_GLOBALS;

struct FX_DRIVER_GLOBALS {
    LIST_ENTRY Linkage;
    LONG Refcnt;
    MxEvent DestroyEvent;
    ULONG_PTR WdfHandleMask;
    LONG WdfVerifierAllocateFailCount;
    ULONG Tag;
    PVOID DriverObject;
    PVOID Driver;
    PVOID DebugExtension;
    PVOID LibraryGlobals;
    PVOID WdfLogHeader;
    /* FxPoolFrameworks .. WdfBindInfo left out */
    PVOID ImageAddress;
    ULONG ImageSize;
    BOOLEAN FxVerifierOn;
    BOOLEAN FxVerifyDownlevel;
    BOOLEAN FxVerifierDbgBreakOnError;
    BOOLEAN FxVerifierDbgBreakOnDeviceStateError;
    BOOLEAN FxVerifierHandle;
    BOOLEAN FxVerifierIO;
    BOOLEAN FxVerifierLock;
    BOOLEAN FxVerifyOn;
    BOOLEAN FxVerboseOn;
    /* FxVerifyLeakDetection .. WdfLogHeaderRefCount and the rest left out */
    __declspec(align(16)) WDF_DRIVER_GLOBALS Public;
};

typedef struct _WDF_VERSION { ULONG Major; ULONG Minor; ULONG Build; } WDF_VERSION;
typedef struct _FX_DUMP_DRIVER_INFO_ENTRY {
    FX_DRIVER_GLOBALS *FxDriverGlobals;
    WDF_VERSION Version;
    CHAR DriverName[32];
} FX_DUMP_DRIVER_INFO_ENTRY;

struct FxLibraryGlobalsType {
    PVOID DriverObject;
    PVOID LibraryDeviceObject;
    /* IoConnectInterruptEx .. OsVersionInfo left out */
    MxLock FxDriverGlobalsListLock;
    LIST_ENTRY FxDriverGlobalsList;
    ULONG BugCheckDriverInfoIndex;
    ULONG BugCheckDriverInfoCount;
    FX_DUMP_DRIVER_INFO_ENTRY *BugCheckDriverInfo;
};

class FxObject {
public:
    virtual void Dispose() {}
    WDFTYPE m_Type;
    USHORT m_ObjectSize;
    LONG m_Refcnt;
    FX_DRIVER_GLOBALS *m_Globals;
    union {
        USHORT m_ObjectFlags;
        struct {
            USHORT PassiveCallbacks : 1;
            USHORT NoDeleteDDI : 1;
            USHORT DeleteCalled : 1;
            USHORT Committed : 1;
            USHORT PassiveDispose : 1;
            USHORT ForceDisposeThread : 1;
            USHORT Unused : 1;
            USHORT HasDebug : 1;
            USHORT EarlyDisposedExt : 1;
            USHORT TraceState : 1;
            USHORT HasCleanup : 1;
            USHORT DisposeOverride : 1;
        } m_ObjectFlagsByName;
    };
    USHORT m_ObjectState;
    LIST_ENTRY m_ChildListHead;
    MxLock m_SpinLock;
    FxObject *m_ParentObject;
    LIST_ENTRY m_ChildEntry;
    SINGLE_LIST_ENTRY m_DisposeSingleEntry;
    union {
        class FxDeviceBase *m_DeviceBase;
        FxDevice *m_Device;
    };
};

class FxNonPagedObject : public FxObject {
public:
    MxLock m_NPLock;
};

class IFxHasCallbacks {
public:
    virtual void GetConstraints() {}
};

class FxPackage : public FxNonPagedObject {
public:
    FxDevice *m_Device;
};

class FxDeviceBase : public FxNonPagedObject, public IFxHasCallbacks {
public:
    /* m_DisposeList is declared first among FxDeviceBase's data members */
    PVOID m_DisposeList;
    PVOID m_Driver;
    MxDeviceObject m_DeviceObject;
    MxDeviceObject m_AttachedDevice;
    MxDeviceObject m_PhysicalDevice;
};

class FxDevice : public FxDeviceBase {
public:
    WDF_DEVICE_PNP_STATE m_CurrentPnpState;
    WDF_DEVICE_POWER_STATE m_CurrentPowerState;
    WDF_DEVICE_POWER_POLICY_STATE m_CurrentPowerPolicyState;
    ULONG m_ReadWriteIoType;
    BYTE m_CallbackFlags;
    BOOLEAN m_Filter;
    BOOLEAN m_PowerPageableCapable;
    /* members up to the packages left out */
    class FxPkgIo *m_PkgIo;
    FxPkgPnp *m_PkgPnp;
    PVOID m_PkgGeneral;
    PVOID m_PkgWmi;
    PVOID m_PkgDefault;
};

struct FxEventQueue {
    UCHAR m_QueueHead;
    UCHAR m_QueueTail;
    UCHAR m_QueueDepth;
    UCHAR m_HistoryIndex;
    FxPkgPnp *m_PkgPnp;
    PVOID m_EventWorkerContext;
    MxLock m_QueueLock;
    UCHAR m_StateMachineLock[0x20];   /* FxWaitLockInternal */
    PVOID m_EventWorker;
};
struct FxWorkItemEventQueue : FxEventQueue { PVOID m_WorkItem; };
struct FxThreadedEventQueue : FxEventQueue { UCHAR m_EventWorkQueueItem[0x20]; };

union FxPnpMachineStateHistory { USHORT History[8]; };
union FxPowerMachineStateHistory { USHORT History[8]; };
union FxPowerPolicyMachineStateHistory { USHORT History[8]; };

struct FxPnpMachine : FxWorkItemEventQueue {
    ULONG m_Queue[8];                  /* FxPnpEvent */
    FxPnpMachineStateHistory m_States;
    BOOLEAN m_FireAndForget;
};
struct FxPowerMachine : FxThreadedEventQueue {
    ULONG m_Queue[8];                  /* FxPowerMachineEventQueue */
    FxPowerMachineStateHistory m_States;
};
struct FxPowerPolicyMachine : FxThreadedEventQueue {
    ULONG m_Queue[8];                  /* FxPowerPolicyEvent */
    FxPowerPolicyMachineStateHistory m_States;
    PVOID m_Owner;
};

class FxPkgPnp : public FxPackage {
public:
    /* the members before the machines left out */
    FxPnpMachine m_PnpMachine;
    FxPowerMachine m_PowerMachine;
    FxPowerPolicyMachine m_PowerPolicyMachine;
    PVOID m_SelfManagedIoMachine;
};

class FxPkgIo : public FxPackage {
public:
    FxIoQueue *m_DefaultQueue;
    LIST_ENTRY m_IoQueueListHead;
};

struct FxIrpQueue {
    LIST_ENTRY m_Queue;
    FxNonPagedObject *m_LockObject;
    PVOID m_CancelCallback;
    LONG m_RequestCount;
};

struct FxIoQueueNode {
    LIST_ENTRY m_ListEntry;
    FxIoQueueNodeType m_Type;
};

class FxIoQueue : public FxNonPagedObject, public IFxHasCallbacks {
public:
    PVOID m_FwdProgContext;
    BOOLEAN m_SupportForwardProgress;
    BOOLEAN m_Configured;
    BOOLEAN m_PowerManaged;
    volatile BOOLEAN m_PowerReferenced;
    BOOLEAN m_AllowZeroLengthRequests;
    BOOLEAN m_PassiveLevel;
    volatile BOOLEAN m_Deleted;
    volatile BOOLEAN m_Disposing;
    MxEvent m_FinishDisposing;
    FXIOQUEUE_POWER_STATE m_PowerState;
    WDF_IO_QUEUE_DISPATCH_TYPE m_Type;
    ULONG m_MaxParallelQueuePresentedRequests;
    FX_IO_QUEUE_STATE m_QueueState;
    FxIrpQueue m_Queue;
    FxIrpQueue m_DriverCancelable;
    LIST_ENTRY m_Cancelled;
    LIST_ENTRY m_CanceledOnQueueList;
    LIST_ENTRY m_DriverOwned;
    LIST_ENTRY m_PowerNotify;
    LIST_ENTRY m_PowerDriverNotified;
    FxPkgIo *m_PkgIo;
    PVOID m_CxDeviceInfo;
    volatile ULONG m_Dispatching;
    volatile BOOLEAN m_TransitionFromEmpty;
    volatile BOOLEAN m_ForceTransitionFromEmptyWhenAddingNewRequest;
    volatile BOOLEAN m_CancelDispatchedRequests;
    BOOLEAN m_IsDevicePowerPolicyOwner;
    volatile LONG m_DriverIoCount;
    volatile LONG m_TwoPhaseCompletions;
    /* callbacks, locks, DPC and work item members left out */
    FxIoQueueNode m_IoPkgListNode;
    SINGLE_LIST_ENTRY m_PowerSListEntry;
};

struct FxIrp { PIRP m_Irp; };

class FxRequestBase : public FxNonPagedObject {
public:
    union {
        MdIoCsqIrpContext m_CsqContext;
        LIST_ENTRY m_ListEntry;
        SINGLE_LIST_ENTRY m_DrainSingleEntry;
    };
    BOOLEAN m_NextStackLocationFormatted;
    FxIrp m_Irp;
    PVOID m_Target;
    PVOID m_RequestContext;
    PVOID m_Timer;
    UCHAR m_CancelRoutine[0x10];
    UCHAR m_CompletionRoutine[0x10];
    PVOID m_TargetCompletionContext;
    LONG m_IrpCompletionReferenceCount;
    UCHAR m_TargetFlags;
    UCHAR m_IrpAllocation;
    BOOLEAN m_Completed;
    BOOLEAN m_Canceled;
    USHORT m_SystemBufferOffset;
    SHORT m_VerifierFlags;
    LONG m_IrpReferenceCount;
    FxIrpQueue *m_IrpQueue;
    USHORT m_OutputBufferOffset;
    UCHAR m_RequestBaseFlags;
    UCHAR m_RequestBaseStaticFlags;
    CCHAR m_PriorityBoost;
    BYTE m_CompletionState;
    BOOLEAN m_CanComplete;
    PVOID m_AllocatedMdl;
};

class FxRequest : public FxRequestBase {
public:
    FxIoQueue *m_IoQueue;
    UCHAR m_SystemBuffer[0x10];        /* FxRequestSystemBuffer */
    UCHAR m_OutputBuffer[0x10];        /* FxRequestOutputBuffer */
    LIST_ENTRY m_OwnerListEntry;
    LIST_ENTRY m_OwnerListEntry2;
    LIST_ENTRY m_ForwardProgressList;
    FxIoQueue *m_ForwardProgressQueue;
    PVOID m_InternalContext;
    BOOLEAN m_Presented;
    BYTE m_PowerStopState;
    BOOLEAN m_Reserved;
    BOOLEAN m_ForwardRequestToParent;
};

/* wdftriage.h (2.33): offset tables the framework exports as g_WdfTriageInfo */
typedef struct _WDFOBJECT_TRIAGE_INFO { ULONG RawObjectSize, ObjectType, TotalObjectSize, ChildListHead, ChildEntry, Globals, ParentObject; } WDFOBJECT_TRIAGE_INFO;
typedef struct _WDFCONTEXT_TRIAGE_INFO { ULONG HeaderSize, NextHeader, Object, TypeInfoPtr, Context; } WDFCONTEXT_TRIAGE_INFO;
typedef struct _WDFCONTEXTTYPE_TRIAGE_INFO { ULONG TypeInfoSize, ContextSize, ContextName; } WDFCONTEXTTYPE_TRIAGE_INFO;
typedef struct _WDFQUEUE_TRIAGE_INFO { ULONG QueueSize, IrpQueue1, IrpQueue2, RequestList1, RequestList2, FwdProgressContext, PkgIo; } WDFQUEUE_TRIAGE_INFO;
typedef struct _WDFFWDPROGRESS_TRIAGE_INFO { ULONG ReservedRequestList, ReservedRequestInUseList, PendedIrpList; } WDFFWDPROGRESS_TRIAGE_INFO;
typedef struct _WDFIRPQUEUE_TRIAGE_INFO { ULONG IrpQueueSize, IrpListHeader, IrpListEntry, IrpContext; } WDFIRPQUEUE_TRIAGE_INFO;
typedef struct _WDFREQUEST_TRIAGE_INFO { ULONG RequestSize, CsqContext, FxIrp, ListEntryQueueOwned, ListEntryQueueOwned2, RequestListEntry, FwdProgressList; } WDFREQUEST_TRIAGE_INFO;
typedef struct _WDFDEVICE_TRIAGE_INFO { ULONG DeviceInitSize, DeviceDriver; } WDFDEVICE_TRIAGE_INFO;
typedef struct _WDFIRP_TRIAGE_INFO { ULONG FxIrpSize, IrpPtr; } WDFIRP_TRIAGE_INFO;
typedef struct _WDF_TRIAGE_INFO {
    ULONG WdfMajorVersion;
    ULONG WdfMinorVersion;
    ULONG TriageInfoMajorVersion;
    ULONG TriageInfoMinorVersion;
    PVOID Reserved;
    WDFOBJECT_TRIAGE_INFO *WdfObjectTriageInfo;
    WDFCONTEXT_TRIAGE_INFO *WdfContextTriageInfo;
    WDFCONTEXTTYPE_TRIAGE_INFO *WdfContextTypeTriageInfo;
    WDFQUEUE_TRIAGE_INFO *WdfQueueTriageInfo;
    WDFFWDPROGRESS_TRIAGE_INFO *WdfFwdProgressTriageInfo;
    WDFIRPQUEUE_TRIAGE_INFO *WdfIrpQueueTriageInfo;
    WDFREQUEST_TRIAGE_INFO *WdfRequestTriageInfo;
    WDFDEVICE_TRIAGE_INFO *WdfDeviceTriageInfo;
    WDFIRP_TRIAGE_INFO *WdfIrpTriageInfo;
} WDF_TRIAGE_INFO;
