"""How EVCSM programs reach the broker: what the daemon and the dashboard share besides the contract.

- `client`: aiomqtt's client, wrapped once (PUBACK reason codes, the broker's packet limit, a
  bounded intake, a will on exit), built from the one broker type `evcsm_schema.broker.BrokerUrl`.
- `requests`: MQTT 5 request/response on it (the contract's `evcsm_schema.requests` carried over
  MQTT properties).
- `backoff`: the reconnect policy of every connection, the database's too.
- `reconnect`: the one loop that keeps a broker connection up with that policy.
- `settings`: the broker settings both programs read (`EVCSM_MQTT_*`), the base of both
  programs' settings (flag, then environment, then default) and a readable `--help`.

The daemon and the dashboard never import each other; both import this. It imports the contract,
pydantic, pydantic-settings, aiomqtt and paho only.
"""
