"""The plain distillation baselines: logit KL with temperature, feature MSE.

Shorthand: B batch, K classes, C channels, H x W spatial size.

Both take student and teacher tensors of the same shape; the teacher side is
detached. In segmentation every pixel is one distribution over K classes.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from .precision import fp32_loss


def _check_same_shape(name: str, pred_s: torch.Tensor,
                      pred_t: torch.Tensor) -> None:
    if pred_s.shape != pred_t.shape:
        raise ValueError(f'{name}: student {tuple(pred_s.shape)} and teacher '
                         f'{tuple(pred_t.shape)} differ in shape')


@MODELS.register_module()
class LogitKLDistillLoss(nn.Module):
    """KL divergence between temperature-softened teacher and student logits.

    ``L = tau^2 * mean_over_samples KL(softmax(z_t / tau) || softmax(z_s /
    tau))`` (Hinton et al., 2015), where a sample is an image ((B, K) logits)
    or a pixel ((B, K, H, W) logits).

    Args:
        tau (float): temperature.
        loss_weight (float): multiplies the loss.

    Example:
        >>> loss = LogitKLDistillLoss(tau=4.0)
        >>> z = torch.randn(2, 5, 3, 3)
        >>> float(loss(z, z))
        0.0
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        if tau <= 0:
            raise ValueError(f'`tau` must be positive, got {tau}')
        self.tau = float(tau)
        self.loss_weight = float(loss_weight)

    @fp32_loss
    def forward(self, logits_s: torch.Tensor,
                logits_t: torch.Tensor) -> torch.Tensor:
        """Args:
            logits_s (Tensor): (B, K) or (B, K, H, W) student logits.
            logits_t (Tensor): teacher logits of the same shape.
        """
        _check_same_shape(type(self).__name__, logits_s, logits_t)
        log_p_s = F.log_softmax(logits_s.float() / self.tau, dim=1)
        log_p_t = F.log_softmax(logits_t.detach().float() / self.tau, dim=1)
        kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)  # (B, ...)
        return self.loss_weight * self.tau ** 2 * kl.mean()


@MODELS.register_module()
class FeatureMSEDistillLoss(nn.Module):
    """Mean squared error between student and teacher feature maps (FitNets).

    Args:
        loss_weight (float): multiplies the loss.

    Example:
        >>> loss = FeatureMSEDistillLoss()
        >>> float(loss(torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)))
        1.0
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    @fp32_loss
    def forward(self, feat_s: torch.Tensor,
                feat_t: torch.Tensor) -> torch.Tensor:
        """Args:
            feat_s (Tensor): (B, C, H, W) (any shape) student features.
            feat_t (Tensor): teacher features of the same shape.
        """
        _check_same_shape(type(self).__name__, feat_s, feat_t)
        return self.loss_weight * F.mse_loss(feat_s.float(),
                                             feat_t.detach().float())
