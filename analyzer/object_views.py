"""The object views as commands (``!wdfdriverinfo``, ``!wdfdevice``, ``!wdfdevicequeues``, ``!wdfqueue``,
``!wdfrequest``, ``!wdfhandle``), shared by the CLI and the debugger adapter: walk what a view needs
(analyzer.objects) and render it (reports/views.py)."""
from __future__ import annotations

from analyzer.objects.commands import ObjectTarget, driver_globals
from analyzer.objects.walk import FX_TYPE_DEVICE, FX_TYPE_QUEUE, FX_TYPE_REQUEST, Walker, to_handle
from parsers.errors import EvidenceError
from reports import views as render

VIEWS = ("driverinfo", "device", "devicequeues", "queue", "request", "handle")
_EXPECTED = {"device": FX_TYPE_DEVICE, "devicequeues": FX_TYPE_DEVICE, "queue": FX_TYPE_QUEUE, "request": FX_TYPE_REQUEST}


def run_view(view: str, target: ObjectTarget, handle: int | None = None) -> str:
    """The text of ``view`` (one of VIEWS) for ``handle``; EvidenceError when the handle names no object of
    the view's type."""
    walker = Walker(target.target, target.layout)
    if view == "driverinfo":
        text = render.render_driverinfo([walker.driver(g) for g in driver_globals(walker, target)])
    elif view == "devicequeues" and handle is None:
        drivers = [walker.driver(g) for g in driver_globals(walker, target)]
        text = "".join(render.render_devicequeues(d) for driver in drivers for d in driver.devices)
    else:
        if handle is None:
            raise EvidenceError(target.source, f"{view} needs a handle")
        address = walker.object_of_handle(handle)
        fx_type = walker.object_type(address) if address is not None else None
        expected = _EXPECTED.get(view)
        if address is None or (expected is not None and fx_type not in (expected, None)):
            raise EvidenceError(target.source, f"handle 0x{handle:x} is a {render.type_name(fx_type)}, not a "
                                               f"{render.type_name(expected)}")
        text = _render_object(view, walker, address, handle, fx_type)
    return text + render.render_notes(walker.warnings, walker.missing)


def _render_object(view: str, walker: Walker, address: int, handle: int, fx_type: int | None) -> str:
    if view == "device":
        return render.render_device(walker.device(address))
    if view == "devicequeues":
        return render.render_devicequeues(walker.device(address))
    if view == "queue":
        return render.render_queue_view(walker.queue(address))
    if view == "request":
        request = walker.request(address)
        if request.queue:
            lists = walker.queue(request.queue).lists
            request.list_name = next((name for name, requests in lists.items()
                                      if any(r.address == address for r in requests)), "")
        return render.render_request(request)
    return render.render_handle(handle, address, fx_type,
                                [(walker.object_type(c), to_handle(c, walker.ptr)) for c in walker.children(address)])
