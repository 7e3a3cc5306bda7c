from .kl_divergence import GaussianKLLoss, gaussian_kl_divergence  # noqa: F401,E501
from .kd_losses import FeatureMSEDistillLoss, LogitKLDistillLoss  # noqa: F401,E501
from .margin_aware_distill_loss import MarginAwareDistillLoss  # noqa: F401
from .region_aware_distill_loss import RegionAwareDistillLoss  # noqa: F401
from .discrepancy_aware_distill_loss import DiscrepancyAwareDistillLoss  # noqa: F401,E501
from .file_weighted_ce import FileWeightedCrossEntropyLoss, load_class_weights  # noqa: F401,E501
from .mmd import (JointMMDLoss, MultiKernelMMDLoss, joint_mmd,  # noqa: F401
                  multi_kernel_mmd)
from .modality_transfer import (CrossTranslationReconstructionLoss,  # noqa: F401,E501
                                ModalityTransferLoss, TransferDecoder)
from .precision import fp32_loss  # noqa: F401
from .seg_accuracy import pixel_accuracy  # noqa: F401
