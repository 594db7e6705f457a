"""Generator and discriminator architectures, registered in ``dfkd.registry.GENERATORS``."""
from generators.dafl import DAFLGenerator, build_generator

__all__ = ["DAFLGenerator", "build_generator"]
