"""Pure analysis core: numpy arrays in, arrays or frozen dataclasses out.

No I/O, no asyncio, no database. Frames: sensor frame as the IMU reports it; earth frame
z up (heading arbitrary for 6-axis fusion). Quaternions are scalar-first (w, x, y, z).
"""
