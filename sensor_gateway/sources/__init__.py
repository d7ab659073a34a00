"""Sample sources that need no radio: simulated sensors and replayed raw-recording CSVs.

Both implement `sensor_gateway.samples.SampleSource` (and so does the BLE source in
`sensor_gateway.ble`).
"""

from sensor_gateway.sources.replay import ReplaySource
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

__all__ = ["ReplaySource", "SimulatedAthlete", "SimulatedSource"]
