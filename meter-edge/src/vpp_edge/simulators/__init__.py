"""Deterministic meter simulators serving the drivers' register maps and protocols over loopback."""
