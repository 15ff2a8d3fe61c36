"""Per-node latency profile of a `.tflite` (`opaudit profile`): see `run.profile_model`."""

from opaudit.profile.result import GroupTime, NodeTime, Profile, Trust, WholeModelTime
from opaudit.profile.run import ProfileRunError, profile_model

__all__ = ["profile_model", "Profile", "NodeTime", "GroupTime", "Trust", "WholeModelTime", "ProfileRunError"]
