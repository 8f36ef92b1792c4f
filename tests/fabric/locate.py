"""Find the Fabric binaries (2.5, or 3.x) and their config folder, or say exactly what is missing.

Binaries: in $FABRIC_BIN if set, else on PATH. Config (core.yaml, orderer.yaml): $FABRIC_CFG_PATH if set,
else the config/ folder beside the binaries' bin/ (the release layout; symlinks are followed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REQUIRED = ("peer", "orderer", "configtxgen", "osnadmin", "cryptogen")
# 2.5 is the version the project is written and tested for; 3.x peers run it unchanged (and from 3.1 take a
# transaction's writes in batches, see chaincode/runtime/README.md)
SUPPORTED = ("2.5.", "3.")


@dataclass(frozen=True)
class FabricInstall:
    bin_dir: Path
    config_dir: Path
    version: str


class FabricMissingError(Exception):
    pass


def locate() -> FabricInstall:
    fabric_bin = os.environ.get("FABRIC_BIN")
    found: dict[str, Path] = {}
    for name in REQUIRED:
        where = shutil.which(name, path=fabric_bin) if fabric_bin else shutil.which(name)
        if where:
            found[name] = Path(where)
    missing = [n for n in REQUIRED if n not in found]
    if missing:
        place = f"$FABRIC_BIN ({fabric_bin})" if fabric_bin else "PATH"
        raise FabricMissingError(f"Fabric binaries not found in {place}: {', '.join(missing)}")
    peer = found["peer"].resolve()
    config = Path(os.environ["FABRIC_CFG_PATH"]) if os.environ.get("FABRIC_CFG_PATH") else peer.parent.parent / "config"
    for needed in ("core.yaml", "orderer.yaml"):
        if not (config / needed).is_file():
            raise FabricMissingError(f"Fabric config file {config / needed} not found (set FABRIC_CFG_PATH)")
    out = subprocess.run([str(peer), "version"], capture_output=True, text=True, timeout=30).stdout
    version = next((line.split(":", 1)[1].strip() for line in out.splitlines() if "Version:" in line), "")
    if not version.startswith(SUPPORTED):
        raise FabricMissingError(f"Fabric 2.5 (or 3.x) is needed, {peer} is version {version or 'unknown'}")
    return FabricInstall(peer.parent, config, version)


if __name__ == "__main__":
    try:
        install = locate()
    except FabricMissingError as exc:
        print(exc)
        sys.exit(1)
    print(f"Fabric {install.version} in {install.bin_dir}, config in {install.config_dir}")
