"""Ensemble teachers: one batched step equals each teacher computed on its own."""

import torch

from policies.actor_critic import mlp
from policies.ensemble import EnsembleMLP


def test_ensemble_step_equals_per_teacher_computation():
    torch.manual_seed(0)
    nets = [mlp([10, 32, 32, 4], "tanh") for _ in range(8)]
    ens = EnsembleMLP.from_mlps(nets)
    x = torch.randn(8, 50, 10)
    with torch.no_grad():
        batched = ens(x)
        single = torch.stack([net(x[t]) for t, net in enumerate(nets)])
    assert torch.allclose(batched, single, atol=1e-6)
    member = ens.member(3)
    with torch.no_grad():
        assert torch.allclose(member(x[3]), single[3], atol=1e-6)


def test_ensemble_gradients_stay_per_teacher():
    ens = EnsembleMLP(4, [6, 16, 2])
    x = torch.randn(4, 20, 6)
    loss = ens(x)[1].square().sum()          # only teacher 1 in the loss
    loss.backward()
    grads = ens.weights[0].grad.abs().sum(dim=(1, 2))
    assert grads[1] > 0 and torch.all(grads[[0, 2, 3]] == 0)
