"""Blocks: block-written ResNets against hand-written torch ResNets, expand round trips,
diagnostics."""

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchref import BasicBlock, Bottleneck, ResNet

from cnncalc.diagnostics import SpecError
from cnncalc.engine import analyze
from cnncalc.read import parse
from cnncalc.read.spec import flat_yaml

BLOCKS = """
blocks:
  BasicBlock:
    args: {planes: null, stride: 1, down: false}
    layers:
      - {name: conv1, type: Conv2d, out_channels: "${planes}", kernel_size: 3,
         stride: "${stride}", padding: 1, bias: false}
      - {name: bn1, type: BatchNorm2d}
      - {name: relu1, type: ReLU}
      - {name: conv2, type: Conv2d, out_channels: "${planes}", kernel_size: 3, padding: 1,
         bias: false}
      - {name: bn2, type: BatchNorm2d}
      - {name: downsample.0, type: Conv2d, from: input, out_channels: "${planes}",
         kernel_size: 1, stride: "${stride}", bias: false, when: "${down}"}
      - {name: downsample.1, type: BatchNorm2d, when: "${down}"}
      - {name: add, type: Add, from: [bn2, downsample.1]}
      - {name: relu, type: ReLU}
  Bottleneck:
    args: {planes: null, stride: 1, down: false}
    layers:
      - {name: conv1, type: Conv2d, out_channels: "${planes}", kernel_size: 1, bias: false}
      - {name: bn1, type: BatchNorm2d}
      - {type: ReLU}
      - {name: conv2, type: Conv2d, out_channels: "${planes}", kernel_size: 3,
         stride: "${stride}", padding: 1, bias: false}
      - {name: bn2, type: BatchNorm2d}
      - {type: ReLU}
      - {name: conv3, type: Conv2d, out_channels: "${planes * 4}", kernel_size: 1, bias: false}
      - {name: bn3, type: BatchNorm2d}
      - {name: downsample, type: Down, from: input, out: "${planes * 4}", stride: "${stride}",
         when: "${down}"}
      - {name: add, type: Add, from: [bn3, downsample]}
      - {type: ReLU}
  Down:                       # a block inside a block
    args: {out: null, stride: 1}
    layers:
      - {name: "0", type: Conv2d, out_channels: "${out}", kernel_size: 1, stride: "${stride}",
         bias: false}
      - {name: "1", type: BatchNorm2d}"""


def resnet_spec(block, layers, shape, width=64, classes=1000):
    expansion = 4 if block == "Bottleneck" else 1
    lines = [
        f"input: {list(shape)}",
        BLOCKS,
        "layers:",
        f"  - {{name: conv1, type: Conv2d, out_channels: {width}, kernel_size: 7, stride: "
        "2, padding: 3, bias: false}",
        "  - {name: bn1, type: BatchNorm2d}",
        "  - {name: relu, type: ReLU}",
        "  - {name: maxpool, type: MaxPool2d, kernel_size: 3, stride: 2, padding: 1}",
    ]
    for i, n in enumerate(layers):
        down = "true" if i > 0 or expansion != 1 else "false"
        stride = 1 if i == 0 else 2
        lines.append(
            f"  - {{name: layer{i + 1}, type: {block}, planes: {width * 2**i}, repeat: "
            f"{n}, first: {{stride: {stride}, down: {down}}}}}"
        )
    lines += [
        "  - {name: avgpool, type: AdaptiveAvgPool2d, output_size: [1, 1]}",
        "  - {type: Flatten}",
        f"  - {{name: fc, type: Linear, out_features: {classes}}}",
    ]
    return "\n".join(lines) + "\n"


CASES = [
    ("BasicBlock", [2, 2, 2, 2], (1, 3, 224, 224), 64),  # ResNet-18
    ("BasicBlock", [3, 4, 6, 3], (2, 3, 97, 131), 16),  # ResNet-34 layout, narrow, odd input
    ("Bottleneck", [3, 4, 6, 3], (1, 3, 224, 224), 64),  # ResNet-50
    ("Bottleneck", [1, 2], (1, 3, 45, 61), 8),  # two stages, odd input
]


@pytest.mark.parametrize("block,layers,shape,width", CASES)
def test_block_resnets_match_hand_written_torch(block, layers, shape, width):
    a = analyze(parse(resnet_spec(block, layers, shape, width, classes=10)))
    model = ResNet(
        {"BasicBlock": BasicBlock, "Bottleneck": Bottleneck}[block],
        layers,
        num_classes=10,
        width=width,
    ).to("meta")
    assert [(t.name, t.shape) for t in a.tensors] == [
        (n, tuple(p.shape)) for n, p in model.named_parameters()
    ]
    assert [(t.name, t.shape) for t in a.buffers] == [
        (n, tuple(b.shape)) for n, b in model.named_buffers()
    ]
    shapes = {}
    for name, m in model.named_modules():
        if any(True for _ in m.parameters(recurse=False)):
            m.register_forward_hook(
                lambda mod, i, o, name=name: shapes.__setitem__(name, tuple(o.shape))
            )
    with FlopCounterMode(display=False) as fc:
        out = model(torch.empty(shape, device="meta"))
    ours = {layer.name: layer.output_shape for layer in a.layers}
    assert shapes and all(ours[n] == s for n, s in shapes.items())
    assert a.total_macs == fc.get_total_flops() // 2
    assert a.output == tuple(out.shape)


def test_expand_round_trips():
    spec = parse(resnet_spec("Bottleneck", [2, 2], (1, 3, 64, 64), 8))
    flat = parse(flat_yaml(spec))
    a, b = analyze(spec), analyze(flat)
    assert [(x.name, x.type, x.inputs, x.output_shape, x.params, x.macs) for x in a.layers] == [
        (x.name, x.type, x.inputs, x.output_shape, x.params, x.macs) for x in b.layers
    ]
    assert flat_yaml(flat) == flat_yaml(spec)


def test_left_out_layers_stand_for_their_input():
    a = analyze(parse(resnet_spec("Bottleneck", [2], (1, 3, 64, 64), 8)))
    add = {x.name: x for x in a.layers}["layer1.1.add"]
    assert add.inputs == (
        "layer1.1.bn3",
        "layer1.0.10",
    )  # the block's input: the previous block's last ReLU


BAD = [
    (
        "{name: b, type: Blk, widht: 3}",
        "unknown block argument 'widht' (did you mean 'width'?)",
        8,
        26,
    ),
    ("{name: b, type: Blk}", "missing required block argument 'width'", 8, 5),
    (
        "{name: b, type: Blk, width: 3, repeat: 0}",
        "repeat must be an integer of at least 1, found 0",
        8,
        44,
    ),
    ("{name: b, type: Blk, width: 3, first: {wdth: 1}}", "unknown block argument 'wdth'", 8, 44),
]


@pytest.mark.parametrize("use,message,line,col", BAD)
def test_block_use_diagnostics(use, message, line, col):
    text = (
        "input: [1, 3, 8, 8]\nblocks:\n  Blk:\n    args: {width: null}\n    layers:\n"
        "      - {type: Conv2d, out_channels: '${width}', kernel_size: 1}\nlayers:\n"
        f"  - {use}\n"
    )
    with pytest.raises(SpecError) as e:
        analyze(parse(text))
    assert message in e.value.message
    assert e.value.pos == (line, col)


def test_bad_expression_and_cycles():
    text = (
        "input: [1, 3, 8, 8]\nblocks:\n  A:\n    layers:\n      - {type: Conv2d, out_channels: "
        "'${2 *}', kernel_size: 1}\nlayers:\n  - {type: A}\n"
    )
    with pytest.raises(SpecError) as e:
        parse(text)
    assert (
        e.value.pos == (5, 38)
        and "bad expression in '${2 *}': expected a value, found the end" in e.value.message
    )
    text = (
        "input: [1, 3, 8, 8]\nblocks:\n  A:\n    layers:\n      - {type: B}\n  B:\n    "
        "layers:\n      - {type: A}\nlayers:\n  - {type: A}\n"
    )
    with pytest.raises(SpecError) as e:
        parse(text)
    assert "blocks use each other in a cycle: A -> B -> A" in e.value.message and e.value.pos == (
        8,
        16,
    )


def test_depth_folds_block_instances_into_rows():
    from typer.testing import CliRunner

    from cnncalc.cli import app

    config = str(Path(__file__).resolve().parent.parent / "configs" / "resnet50.yaml")
    r = CliRunner().invoke(app, ["shapes", config, "--depth", "1"])
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if line.startswith("layer")}
    assert list(rows) == ["layer1", "layer2", "layer3", "layer4"]
    assert (
        "(62 layers)" in rows["layer3"]
        and "[1, 1024, 14, 14]" in rows["layer3"]
        and "7,098,368" in rows["layer3"]
    )
    r2 = CliRunner().invoke(app, ["shapes", config, "--depth", "2"])
    assert sum(line.startswith("layer") for line in r2.stdout.splitlines()) == 16


def test_errors_inside_a_block_name_the_use():
    text = (
        "input: [1, 3, 8, 8]\nblocks:\n  B:\n    args: {w: null}\n    layers:\n"
        "      - {name: c, type: Conv2d, out_channels: '${w}', kernel_size: 3}\n"
        "      - {name: d, type: Conv2d, out_channels: 4, kernel_size: 9}\n"
        "layers:\n  - {name: stem, type: ReLU}\n  - {name: b1, type: B, w: 4, repeat: 2}\n"
    )
    with pytest.raises(SpecError) as e:
        analyze(parse(text))
    assert e.value.pos == (7, 63)
    assert e.value.message == (
        "layer 'b1.0.d' (Conv2d): kernel of effective size 9 does not fit: input H is 6, "
        "smaller than 9 (in block 'B' used by 'b1' at line 10)"
    )
