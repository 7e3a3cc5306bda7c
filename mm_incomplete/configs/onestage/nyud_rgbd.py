# One-stage modality distillation (Wei, Luo, Luo, arXiv 2309.08204) on
# NYUDv2 (40 classes), the paper setting (480 x 640, batch 8, SGD
# Nesterov lr 0.01, 300 epochs of 100 iterations, one-cycle). Student:
# nyud_rgbd_student.py (RGB in, CTN fusion, fusion decoder).
# Teacher: the depth-only network (nyud_rgbd_depth_teacher.py),
# frozen, seeing depth. Training only: the transfer decoder (a second
# ESANet decoder, context neck + head, on the hallucination encoder's
# stage features) inside loss_transfer.
#   L = CE(fusion decoder) + 1.0 KD(transfer, teacher), both at the
#       four scales ESANet's head supervises (output, 3 side outputs)
#       + 0.03 JMMD([h2, h3, context, softmax], teacher's)
#       + 1.0 mean CTN reconstruction error (stem + 4 stages)
# weights: those chosen on the synthetic validation split (the paper does
# not publish its own), see configs/onestage/README.md:
#   python tools/train.py configs/onestage/nyud_rgbd.py
_base_ = ['./nyud_rgbd_student.py']
student = {{_base_.model}}
teacher = {{_base_.teacher_model}}
hall = 'backbone.branches.depth'  # the hallucination encoder
pixels = dict(samples='pixel', pool_size=(30, 40), max_samples=512)
model = dict(
    _delete_=True,
    type='SegDistiller',
    student=student,
    teacher=teacher,
    teacher_ckpt='work_dirs/nyud_rgbd_depth_teacher/iter_30000.pth',
    teacher_combination='depth',
    student_recorders=dict(
        hall1=hall + '.layer1', hall2=hall + '.layer2',
        hall3=hall + '.layer3', hall4=hall + '.layer4',
        rec_stem='backbone.fusions.stem.reconstruction',
        rec1='backbone.fusions.layer1.reconstruction',
        rec2='backbone.fusions.layer2.reconstruction',
        rec3='backbone.fusions.layer3.reconstruction',
        rec4='backbone.fusions.layer4.reconstruction'),
    # ESANet's decoder: the context is the pyramid-pooling module of the
    # neck (512 channels, 1/32; UPerHead's `bottleneck` in the CPU
    # configs); the logits are the head's output at full size, after the
    # output conv and its two learned x2 upsamplings, as the transfer
    # decoder's (`decode_head.conv_seg` would be the 1/4 map before them),
    # then its side outputs at 1/32, 1/16, 1/8 (computed in tensor mode
    # too): the scales the head supervises, in its order
    teacher_recorders=dict(
        stage2='backbone.branches.depth.layer2',
        stage3='backbone.branches.depth.layer3',
        context='neck.context',
        logits='decode_head.upsample.1',
        side32='decode_head.decoder.0.side_output',
        side16='decode_head.decoder.1.side_output',
        side8='decode_head.decoder.2.side_output'),
    distill_losses=dict(
        loss_transfer=dict(
            type='ModalityTransferLoss',
            # the fusion decoder's architecture: context neck + head
            decoder=dict(neck={{_base_.model.neck}},
                         head={{_base_.model.decode_head}}),
            context='neck.context',
            jmmd_stages=(1, 2),
            kd=dict(type='LogitKLDistillLoss', tau=1.0, loss_weight=1.0),
            jmmd=dict(type='JointMMDLoss', **pixels, loss_weight=0.03),
            inputs=dict(
                hall_feats=['student.hall1', 'student.hall2',
                            'student.hall3', 'student.hall4'],
                teacher_feats=['teacher.stage2', 'teacher.stage3'],
                context_t='teacher.context',
                logits_t=['teacher.logits', 'teacher.side32',
                          'teacher.side16', 'teacher.side8'])),
        loss_ctn_rec=dict(
            type='CrossTranslationReconstructionLoss',
            loss_weight=1.0,
            inputs=dict(errors=['student.rec_stem', 'student.rec1',
                                'student.rec2', 'student.rec3',
                                'student.rec4']))))
# every trainable parameter of the distiller gets a gradient in each step
# (the transfer decoder's side outputs from the per-scale KD; the student
# always sees `rgb`, so no branch is skipped):
# tests/test_models/test_distillers/test_onestage.py
find_unused_parameters = False
