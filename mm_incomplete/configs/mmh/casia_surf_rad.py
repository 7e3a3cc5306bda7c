# MMH on CASIA-SURF with RAD alone (the release's "patch" runs):
#   L = CE + 0.4 L_RAD   (RGB student)
_base_ = ['./casia_surf.py']
model = dict(
    distill_losses=dict(
        _delete_=True, loss_rad={{_base_.model.distill_losses.loss_rad}}))
