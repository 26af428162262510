"""What a robot_rl ONNX policy carries in its metadata, shared by export and runtime.

Kept free of torch so that the runtime on a robot's computer imports only
onnx and onnxruntime.
"""

from __future__ import annotations

import hashlib

META_PREFIX = "robot_rl."
FORMAT_VERSION = "1"
REQUIRED_META = ("format_version", "spec", "spec_hash", "task", "config_sha256", "producer",
                 "policy_kind", "weights_sha256")


def weights_sha256(model) -> str:
    """sha256 of the serialized graph (every weight and node), metadata excluded."""
    return hashlib.sha256(model.graph.SerializeToString(deterministic=True)).hexdigest()
