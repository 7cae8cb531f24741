"""The OCPP 1.6J central system against real charge points over loopback WebSockets."""
