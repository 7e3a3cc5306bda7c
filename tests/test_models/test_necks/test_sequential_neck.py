"""SequentialNeck with ESANet's context neck: DMRNet's embedding sits on
the context-module output (the official placement)."""
import torch

from mm_incomplete.models.necks import SequentialNeck

CTX = dict(type='ESANetContextNeck', in_channels=[4, 8, 16, 32],
           skip_channels=(4, 8, 16), context_channels=16)
PE = dict(type='ProbabilisticEmbeddingNeck', in_channels=[4, 8, 16, 16],
          in_index=-1)


def test_embedding_on_the_context_output():
    neck = SequentialNeck([CTX, PE]).eval()
    x = [torch.randn(2, c, 16 // 2**i, 16 // 2**i)
         for i, c in enumerate([4, 8, 16, 32])]
    outs, extras = neck.forward_record(x)
    ctx = neck.necks[0](x)
    stats = extras['embedding_stats']
    assert len(stats) == 1 and stats[0].mu.shape == (2, 16, 2, 2)
    emb = neck.necks[1].embeddings[0](ctx[3])  # eval: z = mu
    torch.testing.assert_close(outs[3], emb.mu)
    torch.testing.assert_close(outs[0], ctx[0])  # skips pass unchanged
