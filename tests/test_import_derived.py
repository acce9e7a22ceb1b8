"""import of what the vision zoo's forwards write that a spec holds as several layers (the models
below are written for this test, each on one mechanism timm's models use): ``var`` and ``std``,
``F.normalize``, ``repeat`` and ``repeat_interleave``, ``F.linear`` with a weight no Linear owns
or a bias the forward computes, ``F.rms_norm``, a constant minus or over a tensor, a list as an
index, an empty part of a cat, ``int()`` of a traced size, weight standardisation, a buffer as a
conv's weight. The importer checks every number against the model itself; here the spec is also
built in torch with the model's own tensors loaded by name, and must compute the model's
values."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncalc.bridge.build import build
from cnncalc.bridge.importer import import_model
from cnncalc.bridge.verify import verify
from cnncalc.engine import analyze
from cnncalc.read import parse


class Var(nn.Module):
    def forward(self, x):
        a = torch.var(x, dim=(2, 3), keepdim=True, unbiased=False)
        b = x.std(-1, keepdim=True)
        c = x.var(1, keepdim=True, correction=0)
        return (x - x.mean(1, keepdim=True)) / (a + 1e-5).sqrt() + b + c


class Normalize(nn.Module):
    def forward(self, x):
        return F.normalize(x, dim=-1) + F.normalize(x, p=1.0, dim=1, eps=1e-6)


class Repeats(nn.Module):
    def forward(self, x):
        y = x.repeat_interleave(3, dim=1) + x.repeat(1, 3, 1, 1)
        return torch.cat([y, x.repeat(2, 1, 1, 1, 1).flatten(0, 1)[:2]], dim=1)


class ForeignWeights(nn.Module):
    """A weight of another name (``weights``), a bias the forward computes (BEiT's q, zero k and
    v biases), a computed weight."""

    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(6, 5))
        self.qkv = nn.Linear(5, 9, bias=False)
        self.q_bias, self.v_bias = nn.Parameter(torch.randn(3)), nn.Parameter(torch.randn(3))
        self.register_buffer("k_bias", torch.zeros(3), persistent=False)
        self.scale = nn.Parameter(torch.randn(6, 1))

    def forward(self, x):
        a = F.linear(x, self.weights)
        b = F.linear(x, self.qkv.weight, torch.cat((self.q_bias, self.k_bias, self.v_bias)))
        c = F.linear(x, self.weights * self.scale)
        return torch.cat([a, b, c], dim=-1)


class RmsAndConstants(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.Module()
        self.norm.weight = nn.Parameter(torch.rand(7) + 0.5)
        self.gate = nn.Parameter(torch.randn(7))

    def forward(self, x):
        y = F.rms_norm(x, (7,), self.norm.weight.float(), 1e-6) + F.rms_norm(x, (7,))
        g = torch.sigmoid(self.gate)
        y = (1.0 - g) * y + 2.0 / (y.abs() + 1.0)
        side = int(x.shape[1] ** 0.5)
        return y * side


class EmptyPrefix(nn.Module):
    """EVA's rotary embedding with no prefix tokens: an empty part concatenated."""

    def __init__(self, prefix=0):
        super().__init__()
        self.prefix = prefix

    def forward(self, x):
        head, rest = x[:, : self.prefix], x[:, self.prefix :]
        return torch.cat([head, rest * 0.5 + rest], dim=1)


class ListIndex(nn.Module):
    def forward(self, x):
        return x[:, :, [6, 0, 5, 1, 4, 2, 3]] + x[:, [1, 0]].sum(1, keepdim=True)


class StandardisedConv(nn.Conv2d):
    """Weight standardisation as the NFNets write it: the weight through F.batch_norm in training
    mode without statistics, with a gain times a fixed scale."""

    def __init__(self, *args, gain=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.gain = nn.Parameter(torch.rand(self.out_channels, 1, 1, 1) + 0.5) if gain else None
        self.scale = 1.7 * self.weight[0].numel() ** -0.5

    def forward(self, x):
        g = None if self.gain is None else (self.gain * self.scale).view(-1)
        w = F.batch_norm(
            self.weight.reshape(1, self.out_channels, -1),
            None,
            None,
            weight=g,
            training=True,
            momentum=0.0,
            eps=1e-5,
        ).reshape_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Standardised(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = StandardisedConv(3, 8, 3, stride=2, padding=1)
        self.b = StandardisedConv(8, 4, 1, bias=False, gain=False, groups=2)

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


class Blur(nn.Module):
    """An anti-aliasing blur pool: a fixed binomial filter held as a buffer, as the conv's
    weight, one per channel."""

    def __init__(self, channels=4):
        super().__init__()
        row = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("filt", (row[:, None] * row[None, :] / 16)[None, None])
        self.channels = channels

    def forward(self, x):
        w = self.filt.expand(self.channels, 1, 3, 3)
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), w, stride=2, groups=4)


class Blurred(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.blur = nn.Conv2d(3, 4, 3), Blur()

    def forward(self, x):
        return self.blur(self.conv(x))


class WriteRegion(nn.Module):
    """Item assignment of a tensor into slices of a computed one (MViTv2's relative positions)."""

    def forward(self, x):
        a = x * 2
        a[:, :, 1:, 2:4] = a[:, :, 1:, 2:4] * 3 + 1.0
        a[:, 1:] = a[:, 1:].sigmoid()
        return a + 1


class AsOther(nn.Module):
    """LeViT's ``bn(x.flatten(0, 1)).reshape_as(x)``."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(6)

    def forward(self, x):
        return self.bn(x.flatten(0, 1)).reshape_as(x) + (x * 2).view_as(x)


class Clamped(nn.Module):
    """Gemma's clamp to bounds held as buffers, and torch.minimum of two tensors."""

    def __init__(self):
        super().__init__()
        self.register_buffer("lo", torch.tensor(-0.5))
        self.register_buffer("hi", torch.tensor(0.7))

    def forward(self, x):
        return torch.clamp(x, self.lo, self.hi) + torch.minimum(x, x.mean(0) * 2)


class GroupNormWeightOnly(nn.Module):
    """timm's GroupNorm1NoBias: a GroupNorm whose bias is set to None, its forward F.group_norm;
    and torch's own GroupNorm with its bias taken off."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.GroupNorm(1, 4), nn.GroupNorm(2, 4)
        self.a.bias = self.b.bias = None

    def forward(self, x):
        return self.b(F.group_norm(x, 1, self.a.weight, None, 1e-6))


CASES = [
    (Var, (2, 3, 4, 5)),
    (Normalize, (2, 3, 6)),
    (Repeats, (2, 2, 3, 4)),
    (ForeignWeights, (2, 4, 5)),
    (RmsAndConstants, (2, 9, 7)),
    (ListIndex, (2, 3, 7)),
    (Standardised, (2, 3, 9, 8)),
    (Blurred, (2, 3, 11, 10)),
    (WriteRegion, (2, 3, 5, 6)),
    (AsOther, (2, 5, 6)),
    (Clamped, (2, 5, 6)),
    (GroupNormWeightOnly, (2, 4, 3, 5)),
]


@pytest.mark.parametrize("make,shape", CASES, ids=[c[0].__name__ for c in CASES])
def test_derived_operations_import_exactly_and_compute_the_models_values(make, shape):
    torch.manual_seed(0)
    model = make().eval()
    a = analyze(parse(import_model(model, shape, make.__name__).text))  # checked against torch
    assert verify(a, "cpu").ok
    net = build(a).eval()
    missing, extra = net.load_state_dict(model.state_dict(), strict=False)
    assert not extra and not [k for k in missing if not k.endswith(("k_bias",))]
    if isinstance(getattr(model, "k_bias", None), torch.Tensor):
        net.k_bias = model.k_bias
    if "Constant" in [layer.type for layer in a.layers]:
        return  # a Constant holds a shape and dtype, not the values (the list index's)
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.allclose(net(x), model(x), atol=1e-5, rtol=1e-4)


def test_an_empty_part_of_a_cat_is_passed_over():
    a = analyze(parse(import_model(EmptyPrefix(0), (2, 5, 4), "e").text))
    assert a.output == (2, 5, 4) and "Cat" not in [x.type for x in a.layers]
    b = analyze(parse(import_model(EmptyPrefix(2), (2, 5, 4), "e").text))
    assert "Cat" in [x.type for x in b.layers]


def test_the_tensors_fx_makes_are_taken_off_the_model():
    model = RmsAndConstants()
    before = set(vars(model))
    import_model(model, (2, 9, 7), "r")
    assert set(vars(model)) == before


class BiasAlone(nn.Module):
    """A GroupNorm whose weight is set to None, its bias kept: no spec holds a bias alone."""

    def __init__(self):
        super().__init__()
        self.c, self.b = nn.Conv2d(4, 4, 1), nn.GroupNorm(2, 4)
        self.b.weight = None

    def forward(self, x):
        return self.b(self.c(x))


def test_a_failed_check_names_the_operation_and_its_source_line():
    from cnncalc.bridge.trace import ImportFailed

    with pytest.raises(ImportFailed) as e:
        import_model(BiasAlone(), (2, 4, 3, 3), "b")
    message = str(e.value)
    assert "parameters differ" in message and "spec only [('b.weight', (4,))]" in message
    assert "(from 'b' at test_import_derived.py:" in message and "\n" not in message


class TwoLinears(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 6), nn.Linear(6, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def _refusal_of_two_linears(monkeypatch, tweak) -> str:
    """The import's refusal of TwoLinears where ``tweak`` alters the spec's analysis first."""
    import cnncalc.engine
    from cnncalc.bridge.trace import ImportFailed

    real = cnncalc.engine.analyze
    monkeypatch.setattr(cnncalc.engine, "analyze", lambda spec: tweak(real(spec)))
    with pytest.raises(ImportFailed) as e:
        import_model(TwoLinears(), (2, 4), "t")
    return str(e.value)


def test_a_count_that_differs_names_the_first_operation_whose_count_differs(monkeypatch):
    """The MACs check, made to fail by counting one layer wrong: the refusal names that layer's
    operation and source line (FlopCounterMode's count of each operation, kept from the trace)."""

    def miscounted(a):
        a.by_name["fc2"].macs += 1
        return a

    message = _refusal_of_two_linears(monkeypatch, miscounted)
    assert "MACs 85 differ from torch's 84" in message, message
    assert "(from 'fc2' at test_import_derived.py:" in message and "self.fc2(" in message


class Conditional(nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda y: y * 2, lambda y: y, (x,))


def test_what_fx_cannot_trace_is_refused_with_its_source_line():
    from cnncalc.bridge.trace import ImportFailed

    with pytest.raises(ImportFailed) as e:
        import_model(Conditional(), (2, 4), "c")
    message = str(e.value)
    assert message.startswith("torch.fx cannot trace the model at test_import_derived.py:")
    assert "(return torch.cond(" in message and "\n" not in message


class Relu(nn.Module):
    def forward(self, x):
        return torch.relu(x) * 2


def test_a_refusal_that_does_not_say_where_gets_its_operations_line(monkeypatch):
    """A handler's refusal without a source line (as a plain value's check has none) is given
    the line of the operation the handler was reading."""
    from cnncalc.bridge import importer
    from cnncalc.bridge.trace import ImportFailed

    def refuse(t, node, v, op, target):
        raise ImportFailed("no layer for this")

    first = (lambda op, target: target is torch.relu, refuse)
    monkeypatch.setattr(importer, "OPS", [first, *importer.OPS])
    with pytest.raises(ImportFailed) as e:
        import_model(Relu(), (2, 3), "r")
    message = str(e.value)
    assert message.startswith("no layer for this in 'relu' at test_import_derived.py:"), message
    assert "(return torch.relu(x) * 2)" in message


def test_outputs_that_differ_name_the_layer_that_gives_them(monkeypatch):
    def reshaped(a):
        a.outputs = [(name, (*shape, 1)) for name, shape in a.outputs]
        return a

    message = _refusal_of_two_linears(monkeypatch, reshaped)
    assert "outputs [[2, 3, 1]] differ from the model's [[2, 3]]" in message, message
    assert "(from 'fc2' at test_import_derived.py:" in message


class LatentQuery(nn.Module):
    """timm's attention pool: a parameter expanded to the batch, into a Linear (the view the
    trace makes without grad is one FlopCounterMode's module hooks cannot hook)."""

    def __init__(self):
        super().__init__()
        self.latent = nn.Parameter(torch.zeros(1, 1, 6))
        self.q = nn.Linear(6, 6)

    def forward(self, x):
        return self.q(self.latent.expand(x.shape[0], -1, -1)) + x.mean(1, keepdim=True)


def test_a_parameter_expanded_into_a_module_imports():
    a = analyze(parse(import_model(LatentQuery(), (2, 5, 6), "l").text))
    assert a.output == (2, 1, 6) and a.total_params == 6 + 42
