"""LSL on loopback only: liblsl reads this config (LSLAPICFG) in the tests and in the
`mirrorwatch` processes they start, so no stream leaves or enters from the network."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_CONFIG = """[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
[lab]
KnownPeers = {127.0.0.1}
[log]
level = -3
"""
# before pylsl is first used: liblsl reads its config once per process
_path = Path(tempfile.mkdtemp(prefix="mw-lsl-")) / "lsl_api.cfg"
_path.write_text(_CONFIG)
os.environ["LSLAPICFG"] = str(_path)
