# MMH with RAD alone on the synthetic segmentation set: L = L_ce + 0.4 L_RAD
_base_ = ['./synthetic_seg_cpu.py']
model = dict(
    distill_losses=dict(
        _delete_=True, loss_rad={{_base_.model.distill_losses.loss_rad}}))
