"""Knowledge-form losses as pure functions."""
from dfkd.losses.bn_prior import BNStatisticsPrior, bn_statistics_loss
from dfkd.losses.features import attention_map, attention_transfer
from dfkd.losses.logits import kd_kl, logit_l1
from dfkd.losses.priors import (activation_loss, class_balance_loss, member_diversity_loss,
                               onehot_loss)

__all__ = ["BNStatisticsPrior", "activation_loss", "attention_map", "attention_transfer",
           "bn_statistics_loss", "class_balance_loss", "kd_kl", "logit_l1",
           "member_diversity_loss", "onehot_loss"]
