"""ChainedScheduler and the SWA utilities (optim/swa_utils.py). The expected rates are the ones torch 2.14's
ChainedScheduler and SWALR printed for the same schedules (two groups, base rates 1 and 2)."""
import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.optim import lr_scheduler as L
from dlcore.optim.swa_utils import SWALR, AveragedModel, get_ema_avg_fn, get_ema_multi_avg_fn, update_bn


def _optimizer(groups=2):
    return optim.SGD([{"params": [dlcore.zeros(1, requires_grad=True)], "lr": float(i + 1)} for i in range(groups)])


def _rates(make, steps=8):
    opt = _optimizer()
    schedule = make(opt)
    rates = [schedule.get_last_lr()]
    for _ in range(steps):
        opt.step()
        schedule.step()
        rates.append(schedule.get_last_lr())
    return np.array(rates)


# (schedule, torch's rates for group 0; group 1 is twice them)
CHAINED = {
    "constant_times_exponential": (
        lambda o: L.ChainedScheduler([L.ConstantLR(o, factor=0.1, total_iters=2), L.ExponentialLR(o, gamma=0.9)]),
        [0.1, 0.09, 0.81, 0.729, 0.6561, 0.59049, 0.531441, 0.4782969, 0.43046721]),
    "linear_times_step": (
        lambda o: L.ChainedScheduler([L.LinearLR(o, start_factor=0.25, total_iters=3), L.StepLR(o, 3, 0.5)]),
        [0.25, 0.5, 0.75, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]),
    "multistep_times_multiplicative": (
        lambda o: L.ChainedScheduler([L.MultiStepLR(o, [2, 5], 0.1), L.MultiplicativeLR(o, lambda e: 0.95)]),
        [1.0, 0.95, 0.09025, 0.0857375, 0.081450625, 0.0077378094, 0.0073509189, 0.006983373, 0.0066342043]),
}


@pytest.mark.parametrize("name", CHAINED)
def test_chained_scheduler_multiplies_the_factors_as_torch(name):
    make, torch_rates = CHAINED[name]
    rates = _rates(make)
    np.testing.assert_allclose(rates[:, 0], torch_rates, rtol=1e-9, atol=1e-10)  # printed to 10 decimals
    np.testing.assert_allclose(rates[:, 1], 2 * np.array(torch_rates), rtol=1e-9, atol=2e-10)


def test_chained_scheduler_state_dict_round_trip_and_errors():
    opt = _optimizer()
    chained = L.ChainedScheduler([L.ConstantLR(opt, factor=0.5, total_iters=1), L.ExponentialLR(opt, gamma=0.5)])
    for _ in range(3):
        chained.step()
    state = chained.state_dict()
    opt2 = _optimizer()
    again = L.ChainedScheduler([L.ConstantLR(opt2, factor=0.5, total_iters=1), L.ExponentialLR(opt2, gamma=0.5)])
    again.load_state_dict(state)
    again.step()
    chained.step()
    assert again.get_last_lr() == chained.get_last_lr() == [0.0625, 0.125]
    with pytest.raises(ValueError, match="same optimizer"):
        L.ChainedScheduler([L.StepLR(opt, 1), L.StepLR(_optimizer(), 1)])
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        L.ChainedScheduler([L.ReduceLROnPlateau(opt)], optimizer=opt)


SWA = {
    "cos_3": (lambda o: SWALR(o, swa_lr=0.05, anneal_epochs=3),
              [[1.0, 2.0], [0.7625, 1.5125], [0.2875, 0.5375]] + [[0.05, 0.05]] * 6),
    "linear_4_per_group": (lambda o: SWALR(o, swa_lr=[0.05, 0.2], anneal_epochs=4, anneal_strategy="linear"),
                           [[1.0, 2.0], [0.7625, 1.55], [0.525, 1.1], [0.2875, 0.65]] + [[0.05, 0.2]] * 5),
    "no_annealing": (lambda o: SWALR(o, swa_lr=0.05, anneal_epochs=0), [[0.05, 0.05]] * 9),
}


@pytest.mark.parametrize("name", SWA)
def test_swalr_rates_as_torch(name):
    make, torch_rates = SWA[name]
    np.testing.assert_allclose(_rates(make), torch_rates, rtol=1e-9)


def test_swalr_anneals_from_the_rate_in_force_after_a_cosine_phase():
    opt = _optimizer(groups=1)
    cosine = L.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        cosine.step()
    swa = SWALR(opt, swa_lr=0.1, anneal_epochs=2)
    rates = [swa.get_last_lr()[0]]
    for _ in range(3):
        swa.step()
        rates.append(swa.get_last_lr()[0])
    np.testing.assert_allclose(rates, [0.6545084972, 0.3772542486, 0.1, 0.1], rtol=1e-9)  # torch's


def test_averaged_model_running_mean_and_ema(rng):
    model = nn.Linear(3, 2)
    swa, ema = AveragedModel(model), AveragedModel(model, avg_fn=get_ema_avg_fn(0.9))
    multi = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    history = []
    for _ in range(4):
        with dlcore.no_grad():
            model.weight.copy_(dlcore.tensor(rng.standard_normal((2, 3)).astype(np.float32)))
        history.append(model.weight.numpy().copy())
        for averaged in (swa, ema, multi):
            averaged.update_parameters(model)
    np.testing.assert_allclose(swa.module.weight.numpy(), np.mean(history, axis=0), rtol=1e-5, atol=1e-6)
    expected = history[0]
    for w in history[1:]:
        expected = 0.9 * expected + 0.1 * w
    np.testing.assert_allclose(ema.module.weight.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(multi.module.weight.numpy(), expected, rtol=1e-5)
    assert int(swa.n_averaged.item()) == 4 and "n_averaged" in dict(swa.named_buffers())
    x = dlcore.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_allclose(swa(x).numpy(), x.numpy() @ swa.module.weight.numpy().T + swa.module.bias.numpy(),
                               rtol=1e-5, atol=1e-6)
    assert swa.module.weight is not model.weight


def test_update_bn_recomputes_the_statistics_over_the_loader(rng):
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, momentum=0.3))
    batches = [dlcore.tensor(rng.standard_normal((8, 4)).astype(np.float32) + i) for i in range(3)]
    model.eval()
    update_bn([(b, 0) for b in batches], model)
    assert not model.training and model[1].momentum == 0.3
    with dlcore.no_grad():
        hidden = [model[0](b).numpy().astype(np.float64) for b in batches]
    # cumulative average over the batches of each batch's mean and unbiased variance
    np.testing.assert_allclose(model[1].running_mean.numpy(), np.mean([h.mean(0) for h in hidden], 0), rtol=1e-4)
    np.testing.assert_allclose(model[1].running_var.numpy(), np.mean([h.var(0, ddof=1) for h in hidden], 0),
                               rtol=1e-4)
