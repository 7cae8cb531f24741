"""OCPP 1.6J: EVCSM as the central system that real charge points connect to.

`CentralSystem` listens for charge points (`OcppConfig`), turns what they send into the events
of `evcsm_daemon.core.events` for an `EventSink`, and carries the service's `ChargerCommands`
to them. Faults in what a station sends are answered to it as CALLERRORs (`rpc.RpcError`, never
raised out of the adapter); commands raise the `ChargerCommandError`s of the event boundary.
See docs/ocpp.md.
"""

from evcsm_daemon.chargers.ocpp.config import Admission, ChargePointList, OcppConfig
from evcsm_daemon.chargers.ocpp.server import CentralSystem

__all__ = ["Admission", "CentralSystem", "ChargePointList", "OcppConfig"]
