"""The peak memory of a training step (FORMAT.md section 15) against torch's own step, measured
by the oracle in ``peak_oracle.py`` (a TorchDispatchMode over FakeTensorMode counting every
storage from the op that makes it to the death of its last reference): byte for byte, with the
phase and the layer where the peak falls."""

from pathlib import Path

import peak_oracle
import pytest
from helpers import analysis_of, torch_run
from hypothesis import HealthCheck, given, settings
from test_graph import CASES as GRAPHS
from test_graph import graphs
from test_layers import C as LAYERS
from test_property import nets

from cnncalc.analyses.peak import peak
from cnncalc.engine import analyze
from cnncalc.read import load

ROOT = Path(__file__).resolve().parent
CONFIGS = sorted((ROOT.parent / "configs").glob("*.yaml"))
NETS = sorted((ROOT / "peak").glob("*.yaml"))

STEPS = [
    {"optimizer": "momentum", "step": "steady", "foreach": True},
    {"optimizer": "adam", "step": "first", "foreach": False},
    {"optimizer": "adam", "step": "steady", "foreach": True},
    {"optimizer": "adamw", "step": "first", "foreach": True},
    {"optimizer": "momentum", "step": "first", "foreach": False, "loss": "mse"},
    {"optimizer": "sgd", "step": "steady", "foreach": False},
]

# kinds whose backward cnncalc does not yet play op by op (FORMAT.md section 15 says so); their
# peak is checked to stay within 25% of torch's, and their exact agreement is expected to fail
ROUGH: set[str] = set()


def trains(a) -> bool:
    """Whether torch can run a training step of the net (batch norm refuses one value a
    channel)."""
    return not any("training mode" in w.message for w in a.warnings)


def agree(a, cuda=False, **step):
    if not trains(a):
        return None
    mine = peak(a, **step)
    torch_ = peak_oracle.peak(a, **step)
    assert (mine.peak_bytes, mine.peak_phase, mine.peak_layer) == (
        torch_["peak_bytes"],
        torch_["peak_phase"],
        torch_["peak_layer"],
    )
    assert mine.phase_peak_bytes == {
        p: torch_["phase_peak_bytes"].get(p, 0) for p in mine.phase_peak_bytes
    }
    assert mine.forward_peak_bytes == torch_["phase_peak_bytes"]["forward"]
    assert sum(mine.peak_breakdown.values()) == mine.peak_bytes
    if cuda:
        assert mine.peak_bytes_cuda == peak_oracle.peak(a, cuda=True, **step)["peak_bytes"]
    return mine


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_config_peaks_where_torch_does(path):
    a = analyze(load(str(path)))
    for k, step in enumerate(STEPS[:3]):
        agree(a, cuda=k == 0, **step)


@pytest.mark.parametrize("path", NETS, ids=lambda p: p.stem)
@pytest.mark.parametrize("k", range(len(STEPS)))
def test_nets_of_every_family_at_batch_8(path, k):
    """Concatenation (DenseNet), squeeze-excitation, a U-Net, 1-D, 3-D and an unbatched net."""
    spec = load(str(path))
    batch = None if path.stem == "unbatched" else 8
    agree(analyze(spec, batch), cuda=k == 0, **STEPS[k])


def _cases():
    for shape, layers in LAYERS + GRAPHS:
        if torch_run(shape, layers)[1] is not None:
            continue
        yield shape, layers
        if len(shape) >= 2 and all(layer.get("from") is None for layer in layers):
            yield shape, [{"name": "head", "type": "Linear", "out_features": shape[-1]}, *layers]


CASES = list(_cases())


@pytest.mark.parametrize("shape,layers", CASES)
def test_every_layer_kind_peaks_as_torch_does(shape, layers):
    a = analysis_of(shape, layers)
    kinds = {layer["type"] for layer in layers}
    if unmodelled(a):
        return
    step = {"optimizer": "adam", "foreach": False, "loss": "mse"}
    if kinds & ROUGH:
        mine = peak(a, **step).peak_bytes
        assert abs(mine - peak_oracle.peak(a, **step)["peak_bytes"]) <= 0.25 * mine
        return
    agree(a, **step)


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(nets())
def test_random_nets_peak_as_torch_does(net):
    shape, layers = net
    if torch_run(shape, layers)[1] is not None:
        return
    agree(analysis_of(shape, layers), optimizer="momentum", loss="mse")


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(graphs())
def test_random_graphs_peak_as_torch_does(net):
    shape, layers = net
    if torch_run(shape, layers)[1] is not None or {x["type"] for x in layers} & ROUGH:
        return
    agree(analysis_of(shape, layers), optimizer="adam", step="first", loss="mse")


def test_the_tutorial_nets_peak_and_where():
    """The README's walk through the tutorial net's step."""
    m = peak(analyze(load(str(ROOT.parent / "configs" / "lenet.yaml"))), optimizer="momentum")
    assert (m.peak_bytes, m.peak_phase, m.peak_layer) == (1_044_968, "backward", "4")
    assert m.phase_peak_bytes["forward"] < m.phase_peak_bytes["backward"]


@pytest.mark.parametrize("path", CONFIGS + NETS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_bfloat16_autocast_peaks_within_one_percent(path):
    """torch.autocast: convs, linears and matmuls in bfloat16, their inputs' and weights' casts,
    the gradients cast back (exact on all of these but GoogLeNet, 0.02% high)."""
    a = analyze(load(str(path)))
    for step in (STEPS[0], STEPS[1], STEPS[4]):
        mine = peak(a, amp="bfloat16", **step)
        torch_ = peak_oracle.peak(a, amp="bfloat16", **step)
        assert abs(mine.peak_bytes - torch_["peak_bytes"]) <= 0.01 * torch_["peak_bytes"]
        assert mine.peak_phase == torch_["peak_phase"]


@pytest.mark.parametrize("shape,layers", CASES[::3])
def test_every_layer_kind_under_autocast(shape, layers):
    a = analysis_of(shape, layers)
    if unmodelled(a) or not trains(a):
        return
    step = {"optimizer": "adam", "foreach": False, "loss": "mse", "amp": "bfloat16"}
    mine = peak(a, **step).peak_bytes
    assert abs(mine - peak_oracle.peak(a, **step)["peak_bytes"]) <= 0.01 * mine


@pytest.mark.xfail(strict=True, reason="known: the books miss 630 bytes of this step's peak")
def test_an_upsample_to_the_input_after_a_conv_under_autocast():
    """Found when the autocast sample above shifted: the peak of a bfloat16 training step through
    a conv and an UpsampleAs to the input's size is 7,286 bytes by the books, 7,916 in torch."""
    layers = [
        {"name": "p", "type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1},
        {"name": "c", "type": "Conv2d", "out_channels": 5, "kernel_size": 1},
        {"type": "UpsampleAs", "from": ["c", "input"]},
    ]
    a = analysis_of((1, 3, 13, 7), layers)
    step = {"optimizer": "adam", "foreach": False, "loss": "mse", "amp": "bfloat16"}
    assert peak(a, **step).peak_bytes == peak_oracle.peak(a, **step)["peak_bytes"]


def unmodelled(a) -> bool:
    """A net whose step the books do not model is refused, located at its first such layer."""
    from cnncalc.analyses.peak import _unmodelled
    from cnncalc.diagnostics import SpecError

    odd = [x for x in a.layers if _unmodelled(x) is not None]
    if not odd:
        return False
    new = {"Embedding", "RNN", "LSTM", "GRU", "MultiheadAttention", "ScaledDotProductAttention"}
    new |= {"Einsum", "Unfold", "Fold", "Pointwise", "Input", "Constant", "Buffer", "Index"}
    new |= {"TopK", "Gather", "GridSample", "RMSNorm", "StdConv2d"}
    new |= {"FunctionalConv2d", "TensorUnfold", "Maximum", "Minimum"}
    assert all(
        x.type in new
        or x.type.startswith(("MaxUnpool", "MaxPool", "AdaptiveMaxPool"))
        or x.frozen
        or x.tied
        or x.kwargs.get("antialias")
        for x in odd
    ), [x.type for x in odd]  # only what this session added is refused
    with pytest.raises(SpecError) as e:
        peak(a)
    assert e.value.layer == odd[0].name and "does not model" in e.value.message
    return True


def test_fit_from_python_and_the_command_line():
    a = analyze(load(str(ROOT.parent / "configs" / "lenet.yaml")))
    import cnncalc

    b = cnncalc.analyze(str(ROOT.parent / "configs" / "lenet.yaml"))
    n = b.fit("4MiB", optimizer="adam")
    assert n > 1
    at = peak(analyze(load(str(ROOT.parent / "configs" / "lenet.yaml")), n), optimizer="adam")
    more = peak(analyze(load(str(ROOT.parent / "configs" / "lenet.yaml")), n + 1), optimizer="adam")
    assert at.peak_bytes_cuda <= 4 << 20 < more.peak_bytes_cuda
    assert b.memory(optimizer="adam").peak.peak_bytes == peak(a, optimizer="adam").peak_bytes


@pytest.mark.parametrize("name", ["yolo94-tiny", "yolo92-cls"])
def test_ultralytics_models_peak_as_torch_does(name):
    """A detection model of several outputs (a loss term each, summed) and a classifier."""
    a = analyze(load(str(ROOT / "ultralytics" / f"{name}.yaml")))
    agree(a, **STEPS[0])


@pytest.mark.parametrize("path", [*NETS, CONFIGS[3]], ids=lambda p: p.stem)
def test_float16_autocast_with_its_grad_scaler_within_one_percent(path):
    """float16 adds a GradScaler (the loss scaled, the gradients unscaled in place): a few
    scalar tensors beside bfloat16's step (the oracle runs this one on real CPU tensors, the
    scaler reading its found-inf flag)."""
    assert path.stem in {"lenet", "dense", "net1d", "net3d", "se", "unbatched", "unet"}
    a = analyze(load(str(path)))
    for step in (STEPS[0], STEPS[1]):
        mine = peak(a, amp="float16", **step)
        torch_ = peak_oracle.peak(a, amp="float16", **step)
        assert abs(mine.peak_bytes - torch_["peak_bytes"]) <= 0.01 * torch_["peak_bytes"]
        assert mine.peak_phase == torch_["peak_phase"]


NORMS = [
    {"type": "GroupNorm", "num_groups": 2},
    {"type": "GroupNorm", "num_groups": 2, "bias": False},
    {"type": "GroupNorm", "num_groups": 2, "affine": False},
    {"type": "InstanceNorm2d", "affine": True},
    {"type": "InstanceNorm2d", "track_running_stats": True},
    {"type": "InstanceNorm2d", "affine": True, "track_running_stats": True},
    {"type": "BatchNorm2d"},
    {"type": "BatchNorm2d", "affine": False, "track_running_stats": False},
]


@pytest.mark.parametrize("norm", NORMS, ids=lambda n: "-".join(map(str, n.values())))
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_norms_on_a_low_precision_input_under_autocast(norm, optimizer):
    """A norm after a conv under bfloat16 autocast: a low input, float32 weights and running
    statistics (GroupNorm's input gradient made in float32 and cast back in its node; the
    InstanceNorm's repeated weight and statistics in float32 beside a weight)."""
    layers = [{"name": "c", "type": "Conv2d", "out_channels": 8, "kernel_size": 1}, norm]
    a = analysis_of((2, 8, 5, 4), layers)
    agree(a, optimizer=optimizer, foreach=False, loss="mse", amp="bfloat16")
