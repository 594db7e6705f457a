"""Knowledge-form losses as pure functions."""
from dfkd.losses.logits import kd_kl, logit_l1
from dfkd.losses.priors import activation_loss, class_balance_loss, onehot_loss

__all__ = ["activation_loss", "class_balance_loss", "kd_kl", "logit_l1", "onehot_loss"]
