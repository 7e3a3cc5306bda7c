# Late fusion on the synthetic RGB-D segmentation set, CPU size: the ModDrop
# multi-branch model's two ResNet-18 branches, no fusion inside the encoder,
# one UPerHead per modality (each on its own branch's features, run on the
# samples where its modality is present) and a decision rule over the present
# modalities' logits, per pixel. Swap the rule with
#   --cfg-options model.decode_head.decision.type=CertaintyWeightedDecision
# (or MeanDecision, LearnedWeightsDecision; UncertaintyWeightedDecision with
# model.decode_head.uncertainty.type=PredictiveEntropy).
_base_ = ['./multi_branch_moddrop_synthetic_seg_cpu.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='LateFusionHead',
        head={{_base_.model.decode_head}},
        decision=dict(type='MeanDecision')))
