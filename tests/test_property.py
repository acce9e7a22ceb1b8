"""Random sequential nets of the listed layers against torch (hypothesis, derandomized).

Where torch runs, every analytic number equals torch's; where torch raises, cnncalc reports an
error at that same layer, and the other way round.
"""

from helpers import assert_agrees_with_torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MAX_SIDE = {1: 24, 2: 12, 3: 6}


def per_dim(n, lo, hi):
    one = st.integers(lo, hi)
    return st.one_of(one, st.lists(one, min_size=n, max_size=n))


def layer(n):
    d = f"{n}d"
    conv = st.fixed_dictionaries(
        {
            "type": st.just(f"Conv{d}"),
            "out_channels": st.integers(1, 6),
            "kernel_size": per_dim(n, 1, 4),
        },
        optional={
            "stride": per_dim(n, 1, 3),
            "padding": st.one_of(per_dim(n, 0, 2), st.sampled_from(["same", "valid"])),
            "dilation": per_dim(n, 1, 2),
            "groups": st.integers(1, 2),
            "bias": st.booleans(),
            "padding_mode": st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
        },
    )
    convt = st.fixed_dictionaries(
        {
            "type": st.just(f"ConvTranspose{d}"),
            "out_channels": st.integers(1, 4),
            "kernel_size": per_dim(n, 1, 3),
        },
        optional={
            "stride": per_dim(n, 1, 3),
            "padding": per_dim(n, 0, 2),
            "output_padding": per_dim(n, 0, 2),
            "dilation": per_dim(n, 1, 2),
        },
    )
    maxpool = st.fixed_dictionaries(
        {"type": st.just(f"MaxPool{d}"), "kernel_size": per_dim(n, 1, 4)},
        optional={
            "stride": per_dim(n, 1, 3),
            "padding": per_dim(n, 0, 2),
            "dilation": per_dim(n, 1, 2),
            "ceil_mode": st.booleans(),
        },
    )
    avgpool = st.fixed_dictionaries(
        {"type": st.just(f"AvgPool{d}"), "kernel_size": per_dim(n, 1, 4)},
        optional={
            "stride": per_dim(n, 1, 3),
            "padding": per_dim(n, 0, 2),
            "ceil_mode": st.booleans(),
            "count_include_pad": st.booleans(),
        },
    )
    adaptive = st.fixed_dictionaries(
        {
            "type": st.sampled_from([f"AdaptiveAvgPool{d}", f"AdaptiveMaxPool{d}"]),
            "output_size": per_dim(n, 1, 4),
        }
    )
    norm = st.one_of(
        st.fixed_dictionaries(
            {"type": st.just(f"BatchNorm{d}")}, optional={"affine": st.booleans()}
        ),
        st.fixed_dictionaries(
            {"type": st.just(f"InstanceNorm{d}")}, optional={"affine": st.booleans()}
        ),
        st.fixed_dictionaries(
            {"type": st.just("GroupNorm"), "num_groups": st.integers(1, 2)},
            optional={"bias": st.booleans()},
        ),
    )
    act = st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["ReLU", "SiLU", "Hardswish", "Identity", "Dropout", f"Dropout{d}"]
            )
        }
    )
    pad = st.fixed_dictionaries(
        {
            "type": st.sampled_from([f"ZeroPad{d}", f"ReflectionPad{d}", f"ReplicationPad{d}"]),
            "padding": st.integers(0, 3),
        }
    )
    upsample = st.fixed_dictionaries(
        {"type": st.just("Upsample"), "scale_factor": st.integers(1, 3)}
    )
    kinds = [conv, conv, convt, maxpool, maxpool, avgpool, adaptive, norm, act, pad, upsample]
    if n == 2:
        kinds.append(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["PixelShuffle", "PixelUnshuffle"])}
            ).map(_shuffle)
        )
    return st.one_of(kinds)


def _shuffle(layer):
    return {
        **layer,
        ("upscale_factor" if layer["type"] == "PixelShuffle" else "downscale_factor"): 2,
    }


@st.composite
def nets(draw):
    n = draw(st.sampled_from([1, 2, 3]))
    batch = draw(st.sampled_from([[], [1], [2]]))
    shape = [
        *batch,
        draw(st.integers(1, 4)),
        *(draw(st.integers(1, MAX_SIDE[n])) for _ in range(n)),
    ]
    layers = draw(st.lists(layer(n), min_size=1, max_size=5))
    if draw(st.booleans()):
        layers += [{"type": "Flatten"}, {"type": "Linear", "out_features": draw(st.integers(1, 5))}]
    return shape, layers


@settings(
    max_examples=400, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(nets())
def test_random_nets_agree_with_torch(net):
    assert_agrees_with_torch(*net)
