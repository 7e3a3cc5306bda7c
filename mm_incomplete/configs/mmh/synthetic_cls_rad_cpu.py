# MMH with RAD alone on the synthetic classification set (no DAD):
#   L = CE + 0.4 L_RAD
_base_ = ['./synthetic_cls_cpu.py']
model = dict(
    distill_losses=dict(
        _delete_=True, loss_rad={{_base_.model.distill_losses.loss_rad}}))
