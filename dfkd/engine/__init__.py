"""The shared adversarial loop and what it is made of."""
from dfkd.core.io import atomic_save, safe_load, seed_everything
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import AdversarialLoop, DivergenceError, StatelessMethod
from dfkd.engine.player import Player, build_optimizer, build_scheduler, lr_factor

__all__ = ["AdversarialLoop", "DivergenceError", "Player", "RunLogger", "StatelessMethod",
           "atomic_save", "build_optimizer", "build_scheduler", "lr_factor", "safe_load",
           "seed_everything"]
