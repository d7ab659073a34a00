"""Edge gateways feeding a central server through an MQTT broker (Mosquitto).

- `tables`: which tables are replicated, their foreign keys and natural keys; row <-> JSON.
- `outbox` (edge): SQLite triggers write every change of a replicated row into
  `federation_changes` in the same transaction as the change; batches of changes are read
  in order and deleted once the central server acknowledges them.
- `inbox` (central): applies a batch in one transaction together with the origin's high-water
  mark, so a batch delivered twice (QoS 1 redelivery, resend after an outage) is stored once.
- `topics`, `mqtt`: topic names, client set-up (paho-mqtt, MQTT v5, credentials, TLS).
- `edge`: the forwarder thread (outbox -> broker), live relay, commands from the central.
- `central`: the consumer (broker -> PostgreSQL), live events onto the central bus, commands
  down to the edges with their acknowledgements.

See README "Many gateways, one central server" for the design, topics and measurements.
"""
