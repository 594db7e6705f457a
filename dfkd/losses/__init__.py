"""Knowledge-form losses as pure functions."""
from dfkd.losses.bn_prior import BNStatisticsPrior, bn_statistics_loss
from dfkd.losses.ddkd import DiffusionDenoisedKD
from dfkd.losses.features import (
                                  activation_boundary,
                                  attention_map,
                                  attention_transfer,
                                  factor_transfer,
                                  hint_loss,
                                  kdsvd,
                                  neuron_selectivity_transfer,
                                  probabilistic_knowledge_transfer,
                                  similarity_preserving,
                                  variational_information,
)
from dfkd.losses.logits import (
                                  dkd,
                                  dkd_parts,
                                  kd_kl,
                                  logit_l1,
                                  pr_dkd,
                                  standardize_logits,
                                  virtual_teacher_kd,
)
from dfkd.losses.priors import (
                                  activation_loss,
                                  class_balance_loss,
                                  member_diversity_loss,
                                  onehot_loss,
)
from dfkd.losses.relations import (
                                  ContrastiveRepresentation,
                                  crd_nce,
                                  fsp_loss,
                                  fsp_matrix,
                                  irg,
                                  rkd_angle,
                                  rkd_distance,
)

__all__ = ["BNStatisticsPrior", "ContrastiveRepresentation", "DiffusionDenoisedKD",
           "activation_boundary", "activation_loss", "attention_map", "attention_transfer",
           "bn_statistics_loss", "class_balance_loss", "crd_nce", "dkd", "dkd_parts",
           "factor_transfer", "fsp_loss", "fsp_matrix", "hint_loss", "irg", "kd_kl", "kdsvd",
           "logit_l1", "member_diversity_loss", "neuron_selectivity_transfer", "onehot_loss",
           "pr_dkd", "probabilistic_knowledge_transfer", "rkd_angle", "rkd_distance",
           "similarity_preserving", "standardize_logits", "variational_information",
           "virtual_teacher_kd"]
