"""dfkd: data-free and GAN-based knowledge distillation on one adversarial loop."""

__version__ = "0.1.0"
