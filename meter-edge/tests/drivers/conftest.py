import socket

import pytest
from vpp_edge.simulators.modbus_server import SimulatorServer, quiet_pymodbus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unused_port():
    return free_port


@pytest.fixture
async def modbus_server():
    """Start an in-process pymodbus server on loopback serving the given Units; stopped after the test."""
    quiet_pymodbus()
    started: list[SimulatorServer] = []

    async def start(units, **kwargs) -> SimulatorServer:
        server = await SimulatorServer("127.0.0.1", free_port(), units, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()
