"""I/O edge: BLE sensors, simulated and replayed sources, raw-recording CSV files.

Imports `fusion` only; emits events and knows nothing about storage or HTTP.
"""
