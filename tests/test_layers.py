"""Every layer type against the real torch module: shapes, tensors (names and shapes), buffers,
MACs.

Each case is an input shape and a list of layers, arguments written as torch takes them. torch runs
the same modules; where torch refuses a layer, cnncalc must report an error at that same layer.
"""

import pytest
from helpers import analysis_of, ours, torch_run

from cnncalc.diagnostics import SpecError
from cnncalc.layers import REGISTRY

C = [
    # --- conv ---
    ((1, 3, 32, 32), [{"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3}]),
    (
        (2, 3, 17, 23),
        [
            {
                "type": "Conv2d",
                "in_channels": 3,
                "out_channels": 6,
                "kernel_size": [3, 5],
                "stride": [2, 3],
                "padding": [1, 2],
                "dilation": [2, 1],
            }
        ],
    ),
    (
        (1, 4, 10, 10),
        [
            {
                "type": "Conv2d",
                "in_channels": 4,
                "out_channels": 8,
                "kernel_size": 3,
                "groups": 4,
                "bias": False,
            }
        ],
    ),
    (
        (1, 4, 9, 8),
        [
            {
                "type": "Conv2d",
                "in_channels": 4,
                "out_channels": 4,
                "kernel_size": 4,
                "padding": "same",
            }
        ],
    ),
    (
        (1, 4, 9, 8),
        [
            {
                "type": "Conv2d",
                "in_channels": 4,
                "out_channels": 4,
                "kernel_size": [2, 5],
                "padding": "same",
                "dilation": [3, 2],
            }
        ],
    ),
    (
        (1, 4, 9, 8),
        [
            {
                "type": "Conv2d",
                "in_channels": 4,
                "out_channels": 4,
                "kernel_size": 3,
                "padding": "valid",
            }
        ],
    ),
    (
        (1, 4, 9, 8),
        [
            {
                "type": "Conv2d",
                "in_channels": 4,
                "out_channels": 4,
                "kernel_size": 3,
                "padding": "same",
                "stride": 2,
            }
        ],
    ),
    (
        (1, 2, 9, 8),
        [
            {
                "type": "Conv2d",
                "in_channels": 2,
                "out_channels": 4,
                "kernel_size": 3,
                "padding": 2,
                "padding_mode": "reflect",
            }
        ],
    ),
    (
        (1, 2, 2, 8),
        [
            {
                "type": "Conv2d",
                "in_channels": 2,
                "out_channels": 4,
                "kernel_size": 1,
                "padding": 2,
                "padding_mode": "reflect",
            }
        ],
    ),
    (
        (1, 2, 5, 8),
        [
            {
                "type": "Conv2d",
                "in_channels": 2,
                "out_channels": 4,
                "kernel_size": 3,
                "padding": 3,
                "padding_mode": "circular",
            }
        ],
    ),
    (
        (1, 2, 5, 8),
        [
            {
                "type": "Conv2d",
                "in_channels": 2,
                "out_channels": 4,
                "kernel_size": 3,
                "padding": 3,
                "padding_mode": "replicate",
            }
        ],
    ),
    (
        (3, 9, 9),
        [{"type": "Conv2d", "in_channels": 3, "out_channels": 5, "kernel_size": 3}],
    ),  # unbatched
    (
        (9, 9),
        [{"type": "Conv2d", "in_channels": 1, "out_channels": 5, "kernel_size": 3}],
    ),  # too few dims
    (
        (1, 3, 2, 9),
        [{"type": "Conv2d", "in_channels": 3, "out_channels": 5, "kernel_size": 3}],
    ),  # kernel too big
    (
        (1, 3, 9, 9),
        [{"type": "Conv2d", "in_channels": 2, "out_channels": 5, "kernel_size": 3}],
    ),  # wrong channels
    (
        (1, 6, 9, 9),
        [{"type": "Conv2d", "in_channels": 6, "out_channels": 5, "kernel_size": 3, "groups": 4}],
    ),
    (
        (2, 3, 50),
        [
            {
                "type": "Conv1d",
                "in_channels": 3,
                "out_channels": 4,
                "kernel_size": 5,
                "stride": 3,
                "padding": 2,
                "dilation": 2,
            }
        ],
    ),
    ((3, 50), [{"type": "Conv1d", "in_channels": 3, "out_channels": 4, "kernel_size": 5}]),
    (
        (1, 2, 7, 9, 11),
        [
            {
                "type": "Conv3d",
                "in_channels": 2,
                "out_channels": 4,
                "kernel_size": [3, 2, 1],
                "stride": 2,
                "padding": 1,
            }
        ],
    ),
    (
        (2, 7, 9, 11),
        [
            {
                "type": "Conv3d",
                "in_channels": 2,
                "out_channels": 4,
                "kernel_size": 3,
                "padding": "same",
            }
        ],
    ),
    # --- transposed conv ---
    (
        (1, 4, 5, 7),
        [
            {
                "type": "ConvTranspose2d",
                "in_channels": 4,
                "out_channels": 6,
                "kernel_size": 3,
                "stride": 2,
                "padding": 1,
                "output_padding": 1,
            }
        ],
    ),
    (
        (1, 4, 5, 7),
        [
            {
                "type": "ConvTranspose2d",
                "in_channels": 4,
                "out_channels": 6,
                "kernel_size": 3,
                "stride": 2,
                "groups": 2,
                "dilation": 2,
                "bias": False,
            }
        ],
    ),
    (
        (1, 4, 5, 7),
        [
            {
                "type": "ConvTranspose2d",
                "in_channels": 4,
                "out_channels": 6,
                "kernel_size": 3,
                "stride": 2,
                "output_padding": 2,
            }
        ],
    ),
    (
        (1, 4, 3, 3),
        [
            {
                "type": "ConvTranspose2d",
                "in_channels": 4,
                "out_channels": 6,
                "kernel_size": 3,
                "padding": 4,
            }
        ],
    ),
    (
        (4, 5),
        [
            {
                "type": "ConvTranspose1d",
                "in_channels": 4,
                "out_channels": 2,
                "kernel_size": 4,
                "stride": 3,
                "output_padding": 2,
                "dilation": 1,
            }
        ],
    ),
    (
        (1, 2, 3, 4, 5),
        [
            {
                "type": "ConvTranspose3d",
                "in_channels": 2,
                "out_channels": 2,
                "kernel_size": 2,
                "stride": 2,
            }
        ],
    ),
    # --- linear ---
    ((4, 10), [{"type": "Linear", "in_features": 10, "out_features": 3}]),
    ((10,), [{"type": "Linear", "in_features": 10, "out_features": 3, "bias": False}]),
    ((2, 5, 7, 10), [{"type": "Linear", "in_features": 10, "out_features": 3}]),
    ((2, 10), [{"type": "Linear", "in_features": 11, "out_features": 3}]),
    # --- pools ---
    (
        (20, 16, 50),
        [{"type": "MaxPool2d", "kernel_size": 3, "stride": 2}],
    ),  # the tutorial's examples
    ((20, 16, 50), [{"type": "MaxPool2d", "kernel_size": [2, 4], "stride": 2}]),
    ((1, 2, 13, 13), [{"type": "MaxPool2d", "kernel_size": 2}]),
    ((1, 2, 13, 13), [{"type": "MaxPool2d", "kernel_size": 2, "ceil_mode": True}]),
    (
        (1, 2, 5, 5),
        [{"type": "MaxPool2d", "kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}],
    ),
    (
        (1, 2, 4, 4),
        [{"type": "MaxPool2d", "kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}],
    ),
    (
        (1, 2, 10, 10),
        [{"type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2}],
    ),
    (
        (1, 2, 10, 10),
        [{"type": "MaxPool2d", "kernel_size": 3, "padding": 2, "dilation": 2}],
    ),  # pad > k/2
    ((1, 2, 2, 2), [{"type": "MaxPool2d", "kernel_size": 3}]),
    ((1, 2, 11), [{"type": "MaxPool1d", "kernel_size": 3, "stride": 2, "ceil_mode": True}]),
    ((2, 11), [{"type": "MaxPool1d", "kernel_size": 4, "padding": 2}]),
    (
        (1, 2, 5, 6, 7),
        [{"type": "MaxPool3d", "kernel_size": [2, 3, 2], "stride": [1, 2, 2], "padding": 1}],
    ),
    (
        (1, 2, 11, 11),
        [
            {
                "type": "AvgPool2d",
                "kernel_size": 3,
                "stride": 2,
                "padding": 1,
                "ceil_mode": True,
                "count_include_pad": False,
            }
        ],
    ),
    ((1, 2, 11, 11), [{"type": "AvgPool2d", "kernel_size": 3, "padding": 2}]),
    ((1, 2, 11), [{"type": "AvgPool1d", "kernel_size": 2}]),
    ((2, 5, 6, 7), [{"type": "AvgPool3d", "kernel_size": 2, "divisor_override": 3}]),
    ((1, 8, 7, 9), [{"type": "AdaptiveAvgPool2d", "output_size": [3, None]}]),
    ((1, 8, 2, 2), [{"type": "AdaptiveAvgPool2d", "output_size": 5}]),
    ((8, 7, 9), [{"type": "AdaptiveMaxPool2d", "output_size": 1}]),
    ((1, 8, 7), [{"type": "AdaptiveAvgPool1d", "output_size": 3}]),
    ((1, 8, 3, 7, 9), [{"type": "AdaptiveMaxPool3d", "output_size": [1, 2, 3]}]),
    # --- norms ---
    ((2, 8, 5, 5), [{"type": "BatchNorm2d", "num_features": 8}]),
    (
        (2, 8, 5, 5),
        [{"type": "BatchNorm2d", "num_features": 8, "affine": False, "track_running_stats": False}],
    ),
    ((8, 5, 5), [{"type": "BatchNorm2d", "num_features": 8}]),  # no unbatched batch norm
    ((2, 8), [{"type": "BatchNorm1d", "num_features": 8}]),
    ((2, 8, 5), [{"type": "BatchNorm1d", "num_features": 8, "momentum": None}]),
    ((2, 3, 4, 5, 6), [{"type": "BatchNorm3d", "num_features": 3}]),
    ((2, 8, 5, 5), [{"type": "InstanceNorm2d", "num_features": 8, "affine": True}]),
    ((8, 5, 5), [{"type": "InstanceNorm2d", "num_features": 8, "track_running_stats": True}]),
    ((2, 8, 1, 1), [{"type": "InstanceNorm2d", "num_features": 8}]),
    ((2, 8, 5), [{"type": "InstanceNorm1d", "num_features": 8}]),
    ((2, 3, 4, 5, 6), [{"type": "InstanceNorm3d", "num_features": 3, "affine": True}]),
    ((2, 8, 5, 5), [{"type": "GroupNorm", "num_groups": 4, "num_channels": 8}]),
    ((2, 8, 5), [{"type": "GroupNorm", "num_groups": 2, "num_channels": 8, "affine": False}]),
    ((2, 8, 5, 5), [{"type": "GroupNorm", "num_groups": 3, "num_channels": 9}]),
    ((2, 8, 5, 5), [{"type": "LayerNorm", "normalized_shape": [5, 5]}]),
    ((2, 8, 5, 5), [{"type": "LayerNorm", "normalized_shape": 5, "bias": False}]),
    (
        (2, 8, 5, 5),
        [{"type": "LayerNorm", "normalized_shape": [8, 5], "elementwise_affine": False}],
    ),
    ((2, 8, 5, 5), [{"type": "LayerNorm", "normalized_shape": [4, 5]}]),
    ((2, 8, 5, 5), [{"type": "LocalResponseNorm", "size": 3}]),
    ((2, 8), [{"type": "LocalResponseNorm", "size": 3}]),
    # --- element-wise ---
    (
        (2, 3, 4, 5),
        [
            {"type": t}
            for t in (
                "ReLU",
                "ReLU6",
                "SELU",
                "SiLU",
                "Mish",
                "Sigmoid",
                "Tanh",
                "Hardswish",
                "Hardsigmoid",
                "Identity",
            )
        ],
    ),
    (
        (2, 3, 4),
        [
            {"type": "LeakyReLU", "negative_slope": 0.2},
            {"type": "ELU", "alpha": 0.5},
            {"type": "CELU"},
            {"type": "GELU", "approximate": "tanh"},
            {"type": "Hardtanh", "min_val": -2, "max_val": 2},
            {"type": "Softplus", "beta": 2},
            {"type": "Dropout", "p": 0.1},
        ],
    ),
    ((2, 3, 4), [{"type": "Hardtanh", "min_val": 2, "max_val": 1}]),
    ((2, 3, 4), [{"type": "Dropout1d"}, {"type": "Dropout2d"}, {"type": "Dropout3d"}]),
    ((2, 3, 4, 5), [{"type": "Dropout1d"}]),
    ((2, 3, 4, 5), [{"type": "PReLU"}, {"type": "PReLU", "num_parameters": 3}]),
    ((2, 4, 4, 5), [{"type": "PReLU", "num_parameters": 3}]),
    (
        (2, 3, 4, 5),
        [{"type": "Softmax", "dim": 1}, {"type": "LogSoftmax", "dim": -1}, {"type": "Softmax"}],
    ),
    ((2, 3, 4, 5), [{"type": "Softmax", "dim": 4}]),
    # --- reshape ---
    ((2, 3, 4, 5), [{"type": "Flatten"}]),
    ((2, 3, 4, 5), [{"type": "Flatten", "start_dim": 0, "end_dim": 2}]),
    ((2, 3, 4, 5), [{"type": "Flatten", "start_dim": -2}]),
    ((2, 3, 4, 5), [{"type": "Flatten", "start_dim": 3, "end_dim": 1}]),
    ((7,), [{"type": "Flatten"}]),
    ((2, 12), [{"type": "Unflatten", "dim": 1, "unflattened_size": [3, 4]}]),
    ((2, 12), [{"type": "Unflatten", "dim": -1, "unflattened_size": [2, -1, 3]}]),
    ((2, 12), [{"type": "Unflatten", "dim": 1, "unflattened_size": [5, 3]}]),
    ((1, 2, 5, 7), [{"type": "Upsample", "scale_factor": 2}]),
    (
        (1, 2, 5, 7),
        [{"type": "Upsample", "scale_factor": 1.7, "mode": "bilinear", "align_corners": False}],
    ),
    ((1, 2, 5, 7), [{"type": "Upsample", "scale_factor": [0.5, 2.5], "mode": "nearest"}]),
    ((1, 2, 5, 7), [{"type": "Upsample", "size": [3, 9], "mode": "bicubic"}]),
    ((1, 2, 5), [{"type": "Upsample", "size": 11, "mode": "linear"}]),
    ((1, 2, 3, 5, 7), [{"type": "Upsample", "scale_factor": 2, "mode": "trilinear"}]),
    ((1, 2, 5), [{"type": "Upsample", "scale_factor": 2, "mode": "bilinear"}]),
    ((1, 2, 5, 7), [{"type": "Upsample", "scale_factor": 0.1}]),
    ((1, 2, 5, 7), [{"type": "Upsample", "scale_factor": 2, "align_corners": True}]),
    ((1, 8, 5, 7), [{"type": "PixelShuffle", "upscale_factor": 2}]),
    ((3, 18, 5, 7), [{"type": "PixelShuffle", "upscale_factor": 3}]),
    ((1, 6, 5, 7), [{"type": "PixelShuffle", "upscale_factor": 2}]),
    ((1, 2, 6, 8), [{"type": "PixelUnshuffle", "downscale_factor": 2}]),
    ((1, 2, 6, 8), [{"type": "PixelUnshuffle", "downscale_factor": 3}]),
    # --- today's nets: views, reductions, splits, products, constants, parameters ---
    ((2, 6, 4, 5), [{"type": "View", "shape": [2, 3, 2, 20]}]),
    ((2, 6, 4, 5), [{"type": "View", "shape": [-1, 20]}]),
    ((2, 6, 4, 5), [{"type": "View", "shape": [-1, -1]}]),  # two -1
    ((2, 6, 4, 5), [{"type": "View", "shape": [7, -1]}]),
    ((2, 6, 4, 5), [{"type": "Reshape", "shape": [2, 6, 20]}]),
    (
        (2, 6, 4, 5),
        [{"type": "Permute", "dims": [0, 2, 3, 1]}, {"type": "View", "shape": [2, -1]}],
    ),  # not a view
    (
        (2, 6, 4, 5),
        [{"type": "Permute", "dims": [0, 2, 3, 1]}, {"type": "View", "shape": [2, 20, 6]}],
    ),  # merges H, W: a view
    (
        (2, 6, 4, 5),
        [{"type": "Permute", "dims": [0, 2, 3, 1]}, {"type": "Reshape", "shape": [2, -1]}],
    ),
    (
        (2, 6, 4, 5),
        [
            {"type": "Permute", "dims": [0, 2, 3, 1]},
            {"type": "GELU"},
            {"type": "View", "shape": [2, -1]},
        ],
    ),
    (
        (2, 6, 4, 5),
        [
            {"type": "Permute", "dims": [0, 2, 3, 1]},
            {"type": "LayerNorm", "normalized_shape": [6]},
            {"type": "View", "shape": [2, -1]},
        ],
    ),
    (
        (2, 6, 4, 5),
        [
            {"type": "Permute", "dims": [0, 2, 3, 1]},
            {"type": "Flatten"},
            {"type": "View", "shape": [2, 120]},
        ],
    ),
    (
        (2, 6, 4, 5),
        [{"type": "Permute", "dims": [0, 2, 3, 1]}, {"type": "Flatten"}, {"type": "GELU"}],
    ),
    (
        (2, 6, 4, 5),
        [
            {"type": "Transpose", "dim0": 1, "dim1": 3},
            {"type": "Unflatten", "dim": 2, "unflattened_size": [2, 2]},
            {"type": "ReLU"},
        ],
    ),
    ((2, 6, 4, 5), [{"type": "Permute", "dims": [0, 2, 1]}]),
    ((2, 6, 4, 5), [{"type": "Permute", "dims": [0, 2, 2, 1]}]),
    ((2, 6, 4, 5), [{"type": "Permute", "dims": [-4, 2, -1, 1]}]),
    (
        (1, 4, 3, 5),
        [
            {"type": "Unflatten", "dim": 1, "unflattened_size": [2, 2]},
            {"type": "Transpose", "dim0": 1, "dim1": 2},
            {"type": "Contiguous"},
            {"type": "View", "shape": [1, 4, 3, 5]},
        ],
    ),
    (
        (1, 4, 3, 5),
        [
            {"type": "Unflatten", "dim": 1, "unflattened_size": [2, 2]},
            {"type": "Transpose", "dim0": 1, "dim1": 2},
            {"type": "View", "shape": [1, 4, 3, 5]},
        ],
    ),  # ShuffleNet without contiguous()
    (
        (1, 4, 3, 5),
        [
            {"type": "Transpose", "dim0": 1, "dim1": 3},
            {"type": "Unflatten", "dim": 1, "unflattened_size": [5, 1]},
        ],
    ),
    ((2, 3, 4), [{"type": "Transpose", "dim0": 0, "dim1": 3}]),
    ((2, 1, 4, 1), [{"type": "Squeeze"}]),
    ((2, 1, 4, 1), [{"type": "Squeeze", "dim": [1, 2]}]),
    ((2, 1, 4, 1), [{"type": "Squeeze", "dim": -1}]),
    ((2, 1, 4, 1), [{"type": "Squeeze", "dim": 4}]),
    ((2, 3), [{"type": "Unsqueeze", "dim": 2}]),
    ((2, 3), [{"type": "Unsqueeze", "dim": -3}]),
    ((2, 3), [{"type": "Unsqueeze", "dim": 3}]),
    (
        (2, 3, 4),
        [
            {"type": "Transpose", "dim0": 1, "dim1": 2},
            {"type": "Unsqueeze", "dim": 1},
            {"type": "View", "shape": [2, 4, 3]},
        ],
    ),
    ((1, 12, 5, 5), [{"type": "ChannelShuffle", "groups": 3}]),
    ((1, 12, 5, 5), [{"type": "ChannelShuffle", "groups": 5}]),
    ((2, 12), [{"type": "ChannelShuffle", "groups": 3}]),
    ((2, 12, 7), [{"type": "ChannelShuffle", "groups": 4}]),
    ((2, 8, 5, 7), [{"type": "Mean", "dim": [2, 3]}]),
    ((2, 8, 5, 7), [{"type": "Mean", "dim": [-1, -2], "keepdim": True}]),
    ((2, 8, 5, 7), [{"type": "Mean"}]),
    ((2, 8, 5, 7), [{"type": "Sum", "dim": 1, "keepdim": True}]),
    ((2, 8, 5, 7), [{"type": "Sum", "dim": [1, 1]}]),
    ((2, 8, 5, 7), [{"type": "Amax", "dim": [2, 3], "keepdim": True}]),
    ((2, 8, 5, 7), [{"type": "Amax", "dim": 4}]),
    ((2, 8, 5, 7), [{"type": "Amax", "dim": []}]),
    ((2, 8, 5, 7), [{"type": "Sum", "dim": []}]),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Split", "split_size_or_sections": 5, "dim": 1},
            {"type": "Conv2d", "from": "s:2", "out_channels": 3, "kernel_size": 1},
        ],
    ),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Split", "split_size_or_sections": [4, 8], "dim": 1},
            {"name": "c", "type": "Cat", "from": ["s:1", "s:0"]},
        ],
    ),
    ((2, 12, 5, 5), [{"name": "s", "type": "Split", "split_size_or_sections": [4, 7], "dim": 1}]),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Split", "split_size_or_sections": [12]},
            {"type": "Cat", "from": ["s:0"]},
        ],
    ),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Split", "split_size_or_sections": 2},
            {"type": "ReLU", "from": "s:0"},
        ],
    ),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Chunk", "chunks": 5, "dim": 1},
            {"type": "Add", "from": ["s:0", "s:3"]},
        ],
    ),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Chunk", "chunks": 2, "dim": -1},
            {"type": "Mul", "from": ["s:0", "s:1"]},
        ],
    ),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Chunk", "chunks": 2, "dim": 1},
            {"type": "Transpose", "from": "s:1", "dim0": 2, "dim1": 3},
            {"type": "View", "shape": [2, 6, 25]},
        ],
    ),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Chunk", "chunks": 2, "dim": 1},
            {"type": "View", "from": "s:1", "shape": [2, 150]},
        ],
    ),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Chunk", "chunks": 2, "dim": 2},
            {"type": "View", "from": "s:1", "shape": [2, 12, 10]},
        ],
    ),
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Chunk", "chunks": 2, "dim": 1},
            {"type": "View", "from": "s:0", "shape": [12, 25]},
        ],
    ),
    (
        (2, 6, 4, 5),
        [
            {"name": "f", "type": "Flatten", "start_dim": 2},
            {"type": "ViewAs", "from": ["f", "input"]},
        ],
    ),
    (
        (2, 6, 4, 5),
        [
            {"name": "t", "type": "Transpose", "dim0": 2, "dim1": 3},
            {"type": "ViewAs", "from": ["t", "input"]},
        ],
    ),  # not a view
    (
        (2, 6, 4, 5),
        [
            {"name": "t", "type": "Transpose", "dim0": 2, "dim1": 3},
            {"type": "ReshapeAs", "from": ["t", "input"]},
        ],
    ),
    (
        (1, 3, 13, 7),
        [
            {"name": "p", "type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1},
            {"name": "c", "type": "Conv2d", "out_channels": 5, "kernel_size": 1},
            {"type": "UpsampleAs", "from": ["c", "input"]},
        ],
    ),  # to another tensor's size: 7 x 4 -> 13 x 7
    (
        (1, 3, 9, 6),
        [
            {"name": "p", "type": "MaxPool2d", "kernel_size": 2},
            {"type": "UpsampleAs", "from": ["input", "p"], "mode": "bilinear"},
        ],
    ),
    (
        (2, 6, 4, 5),
        [
            {"name": "s", "type": "Split", "split_size_or_sections": [2, 4]},
            {"type": "ReshapeAs", "from": ["s:1", "input"]},
        ],
    ),  # numel differs
    (
        (2, 12, 5, 5),
        [
            {"name": "s", "type": "Chunk", "chunks": 2, "dim": 1},
            {"name": "f", "type": "Flatten", "from": "s:1", "start_dim": 2},
            {
                "name": "c",
                "type": "Conv2d",
                "in_channels": 12,
                "out_channels": 6,
                "kernel_size": 1,
                "from": "input",
            },
            {"type": "ViewAs", "from": ["f", "c"]},
        ],
    ),
    (
        (3, 4, 5),
        [
            {"name": "t", "type": "Transpose", "dim0": 1, "dim1": 2},
            {"type": "MatMul", "from": ["input", "t"]},
        ],
    ),
    (
        (3, 4, 5),
        [
            {"name": "t", "type": "Transpose", "dim0": 1, "dim1": 2},
            {"type": "MatMul", "from": ["t", "input"]},
        ],
    ),
    ((3, 4, 5), [{"type": "MatMul", "from": ["input", "input"]}]),
    (
        (2, 1, 4, 5),
        [
            {"name": "w", "type": "Parameter", "shape": [3, 5, 6]},
            {"type": "MatMul", "from": ["input", "w"]},
        ],
    ),
    ((5,), [{"type": "MatMul", "from": ["input", "input"]}]),
    (
        (4, 5),
        [
            {"name": "v", "type": "Parameter", "shape": [5]},
            {"type": "MatMul", "from": ["input", "v"]},
        ],
    ),
    (
        (5,),
        [
            {"name": "m", "type": "Parameter", "shape": [5, 3]},
            {"type": "MatMul", "from": ["input", "m"]},
        ],
    ),
    (
        (5,),
        [
            {"name": "m", "type": "Parameter", "shape": [2, 5, 3]},
            {"type": "MatMul", "from": ["input", "m"]},
        ],
    ),
    (
        (2, 3, 4, 5),
        [
            {"name": "v", "type": "Parameter", "shape": [5]},
            {"type": "MatMul", "from": ["input", "v"]},
        ],
    ),
    ((2, 6, 4, 5), [{"type": "Add", "from": ["input"], "value": 3.0}]),
    ((2, 6, 4, 5), [{"type": "Mul", "from": ["input"], "value": 0.5}]),
    ((2, 6, 4, 5), [{"type": "Div", "from": ["input"], "value": 6}]),
    (
        (2, 6, 4, 5),
        [
            {"name": "m", "type": "Mean", "dim": [2, 3], "keepdim": True},
            {"type": "Div", "from": ["input", "m"]},
        ],
    ),
    (
        (2, 6, 4, 5),
        [
            {"name": "g", "type": "Parameter", "shape": [6, 1, 1]},
            {"name": "ls", "type": "Mul", "from": ["g", "input"]},
        ],
    ),
    (
        (2, 6, 4, 5),
        [
            {"name": "g", "type": "Parameter", "shape": [5, 1, 1]},
            {"name": "ls", "type": "Mul", "from": ["g", "input"]},
        ],
    ),
    (
        (2, 6, 4, 5),
        [
            {"name": "tok", "type": "Parameter", "shape": [2, 6, 1, 5]},
            {"name": "c", "type": "Cat", "from": ["tok", "input"], "dim": 2},
        ],
    ),
    ((2, 6, 4, 5), [{"type": "StochasticDepth", "p": 0.2, "mode": "row"}]),
    ((2, 6, 4, 5), [{"type": "StochasticDepth", "p": 0.5, "mode": "batch"}]),
    (
        (2, 6, 4, 5),
        [
            {"name": "a", "type": "Mean", "dim": 1, "keepdim": True},
            {"type": "Sub", "from": ["input", "a"]},
        ],
    ),
    ((2, 6, 4, 5), [{"type": "Sub", "from": ["input"], "value": 1.5}]),
    (
        (2, 6, 4, 5),
        [
            {"name": "a", "type": "Amax", "dim": [2, 3], "keepdim": True},
            {"type": "Sub", "from": ["a", "input"]},
        ],
    ),
    ((2, 6, 4, 5), [{"name": "s", "type": "Stack", "from": ["input", "input"], "dim": 1}]),
    ((2, 6, 4, 5), [{"name": "s", "type": "Stack", "from": ["input"], "dim": -1}]),
    (
        (2, 6, 4, 5),
        [{"name": "m", "type": "Mean", "dim": 1}, {"type": "Stack", "from": ["input", "m"]}],
    ),
    ((2, 6, 1, 1), [{"type": "Expand", "shape": [-1, -1, 4, 5]}]),
    ((2, 6, 1, 1), [{"type": "Expand", "shape": [3, 2, 6, 4, 5]}]),
    ((2, 6, 1, 1), [{"type": "Expand", "shape": [2, 5, 1, 1]}]),
    ((2, 6, 1, 1), [{"type": "Expand", "shape": [6, 1, 1]}]),
    (
        (2, 6, 1, 1),
        [{"type": "Expand", "shape": [-1, -1, 4, 5]}, {"type": "View", "shape": [2, 120]}],
    ),
    (
        (2, 6, 1, 1),
        [{"type": "Expand", "shape": [-1, -1, 4, 5]}, {"type": "Reshape", "shape": [2, 120]}],
    ),
    ((2, 6, 4, 5), [{"type": "Slice", "dim": 1, "end": 3}]),
    ((2, 6, 4, 5), [{"type": "Slice", "dim": 1, "start": -4, "end": 100, "step": 2}]),
    ((2, 6, 4, 5), [{"type": "Slice", "dim": -1, "start": 5}]),
    (
        (2, 6, 4, 5),
        [{"type": "Slice", "dim": 1, "start": 1, "step": 2}, {"type": "View", "shape": [2, -1]}],
    ),
    ((2, 6, 4, 5), [{"type": "Slice", "dim": 0, "end": 1}, {"type": "View", "shape": [6, 20]}]),
    ((2, 6, 4, 5), [{"type": "Select", "dim": 1, "index": -1}]),
    ((2, 6, 4, 5), [{"type": "Select", "dim": 2, "index": 4}]),
    ((2, 6, 4, 5), [{"type": "Select", "dim": 2, "index": 0}, {"type": "View", "shape": [2, 30]}]),
    ((2, 6, 4, 5), [{"type": "Norm", "dim": [1, 2], "keepdim": True}]),
    ((2, 6, 4, 5), [{"type": "Norm", "p": 1.0}]),
    ((3, 2, 4, 5), [{"name": "u", "type": "Unbind"}, {"type": "MatMul", "from": ["u:0", "u:2"]}]),
    (
        (3, 2, 4, 5),
        [{"name": "u", "type": "Unbind", "dim": -1}, {"type": "Add", "from": ["u:4", "u:1"]}],
    ),
    (
        (3, 2, 4, 5),
        [{"name": "u", "type": "Unbind", "dim": 2}, {"type": "View", "from": "u:3", "shape": [30]}],
    ),
    # --- sequences and attention ---
    ((5, 3, 8), [{"type": "LSTM", "input_size": 8, "hidden_size": 16, "num_layers": 2}]),
    ((5, 3, 8), [{"type": "LSTM", "input_size": 8, "hidden_size": 16, "proj_size": 4}]),
    (
        (3, 5, 8),
        [
            {
                "type": "GRU",
                "input_size": 8,
                "hidden_size": 6,
                "batch_first": True,
                "bidirectional": True,
            }
        ],
    ),
    ((5, 8), [{"type": "RNN", "input_size": 8, "hidden_size": 4, "nonlinearity": "relu"}]),
    (
        (5, 3, 8),
        [{"type": "RNN", "input_size": 8, "hidden_size": 4, "num_layers": 3, "bias": False}],
    ),
    (
        (5, 3, 8),
        [
            {"name": "h", "type": "Constant", "shape": [2, 3, 16]},
            {"name": "c", "type": "Constant", "shape": [2, 3, 16]},
            {
                "type": "LSTM",
                "from": ["input", "h", "c"],
                "input_size": 8,
                "hidden_size": 16,
                "bidirectional": True,
            },
        ],
    ),
    (
        (5, 3, 8),
        [
            {"name": "h", "type": "Constant", "shape": [2, 3, 16]},
            {"type": "GRU", "from": ["input", "h"], "input_size": 8, "hidden_size": 16},
        ],
    ),
    (
        (2, 7),
        [
            {"name": "ids", "type": "Constant", "shape": [2, 7], "dtype": "int64"},
            {
                "type": "Embedding",
                "from": "ids",
                "num_embeddings": 10,
                "embedding_dim": 4,
                "padding_idx": 0,
            },
        ],
    ),
    (
        (2, 6, 16),
        [
            {
                "type": "MultiheadAttention",
                "from": ["input", "input", "input"],
                "embed_dim": 16,
                "num_heads": 4,
                "batch_first": True,
            }
        ],
    ),
    (
        (6, 2, 16),
        [
            {"name": "k", "type": "Input", "shape": [9, 2, 8]},
            {
                "type": "MultiheadAttention",
                "from": ["input", "k", "k"],
                "embed_dim": 16,
                "num_heads": 2,
                "kdim": 8,
                "vdim": 8,
                "need_weights": False,
            },
        ],
    ),
    (
        (6, 16),
        [
            {
                "type": "MultiheadAttention",
                "from": ["input", "input", "input"],
                "embed_dim": 16,
                "num_heads": 8,
                "add_bias_kv": True,
                "average_attn_weights": False,
            }
        ],
    ),
    ((2, 3, 5, 8), [{"type": "ScaledDotProductAttention", "from": ["input", "input", "input"]}]),
    (
        (2, 3, 5, 8),
        [
            {"name": "v", "type": "Input", "shape": [2, 3, 7, 6]},
            {"name": "k", "type": "Input", "shape": [2, 3, 7, 8]},
            {"type": "ScaledDotProductAttention", "from": ["input", "k", "v"]},
        ],
    ),
    (
        (4, 5, 8),
        [
            {
                "type": "ScaledDotProductAttention",
                "from": ["input", "input", "input"],
                "is_causal": True,
            }
        ],
    ),
    # --- windows and unpooling ---
    ((2, 3, 9, 8), [{"type": "Unfold", "kernel_size": [3, 2], "stride": 2, "padding": 1}]),
    ((3, 9, 8), [{"type": "Unfold", "kernel_size": 3, "dilation": 2}]),
    ((2, 12, 20), [{"type": "Fold", "output_size": [5, 6], "kernel_size": 2}]),
    ((2, 12, 19), [{"type": "Fold", "output_size": [5, 6], "kernel_size": 2}]),
    (
        (1, 2, 8, 10),
        [
            {"name": "p", "type": "MaxPool2d", "kernel_size": 2, "return_indices": True},
            {"type": "MaxUnpool2d", "from": ["p:0", "p:1"], "kernel_size": 2},
        ],
    ),
    (
        (1, 2, 9),
        [
            {
                "name": "p",
                "type": "MaxPool1d",
                "kernel_size": 3,
                "stride": 2,
                "return_indices": True,
            },
            {
                "type": "MaxUnpool1d",
                "from": ["p:0", "p:1"],
                "kernel_size": 3,
                "stride": 2,
                "output_size": [10],
            },
        ],
    ),
    ((1, 2, 4, 4, 4), [{"type": "AdaptiveMaxPool3d", "output_size": 2, "return_indices": True}]),
    (
        (2, 4, 6, 4),
        [
            {"name": "p", "type": "MaxPool3d", "kernel_size": 2, "return_indices": True},
            {
                "type": "MaxUnpool3d",
                "from": ["p:0", "p:1"],
                "kernel_size": 2,
                "output_size": [4, 7, 4],
            },
        ],
    ),
    # --- buffers read by the forward ---
    (
        (2, 10, 8),
        [
            {"name": "pe", "type": "Buffer", "shape": [1, 10, 8]},
            {"type": "Add", "from": ["input", "pe"]},
        ],
    ),
    (
        (3, 5),
        [
            {"name": "idx", "type": "Buffer", "shape": [3, 5], "dtype": "int64"},
            {"type": "Constant", "shape": [3, 5]},
        ],
    ),
    (
        (169, 4),
        [
            {"name": "i", "type": "Buffer", "shape": [49, 49], "dtype": "int64"},
            {"type": "Index", "from": ["input", "i"]},
        ],
    ),
    (
        (2, 7, 3),
        [
            {"name": "i", "type": "Constant", "shape": [5], "dtype": "int64"},
            {"type": "Index", "from": ["input", "i"], "dim": 1},
        ],
    ),
    (
        (2, 7),
        [
            {"name": "i", "type": "Constant", "shape": [5], "dtype": "int64"},
            {"type": "Index", "from": ["input", "i"], "dim": 2},
        ],
    ),
    # --- picking and sampling ---
    ((2, 10), [{"type": "TopK", "k": 3}]),
    ((2, 5, 7), [{"type": "TopK", "k": 5, "dim": 1, "largest": False, "sorted": False}]),
    ((2, 3), [{"type": "TopK", "k": 4}]),
    ((2, 3), [{"type": "TopK", "k": 4, "at_most": True}]),
    ((2, 9), [{"type": "TopK", "k": 4, "at_most": True, "dim": 1}]),
    (
        (2, 6, 4),
        [
            {"name": "t", "type": "TopK", "k": 3, "dim": 1},
            {"type": "Gather", "from": ["input", "t:1"], "dim": 1},
        ],
    ),
    (
        (3, 8),
        [
            {"name": "i", "type": "Constant", "shape": [2, 5], "dtype": "int64"},
            {"type": "Gather", "from": ["input", "i"], "dim": 1},
        ],
    ),
    (
        (3, 8),
        [
            {"name": "i", "type": "Constant", "shape": [4, 5], "dtype": "int64"},
            {"type": "Gather", "from": ["input", "i"], "dim": 1},
        ],
    ),
    (
        (3, 8),
        [
            {"name": "i", "type": "Constant", "shape": [3], "dtype": "int64"},
            {"type": "Gather", "from": ["input", "i"], "dim": 0},
        ],
    ),
    (
        (2, 3, 8, 8),
        [
            {"name": "g", "type": "Input", "shape": [2, 5, 7, 2]},
            {"type": "GridSample", "from": ["input", "g"]},
        ],
    ),
    (
        (1, 2, 4, 4, 4),
        [
            {"name": "g", "type": "Input", "shape": [1, 3, 2, 5, 3]},
            {
                "type": "GridSample",
                "from": ["input", "g"],
                "mode": "nearest",
                "align_corners": True,
            },
        ],
    ),
    (
        (2, 3, 8, 8),
        [
            {"name": "g", "type": "Input", "shape": [1, 5, 7, 2]},
            {"type": "GridSample", "from": ["input", "g"], "padding_mode": "border"},
        ],
    ),
    (
        (2, 3, 8, 8),
        [
            {"name": "g", "type": "Input", "shape": [2, 5, 7, 2]},
            {"type": "GridSample", "from": ["input", "g"], "mode": "bicubic"},
        ],
    ),
    # --- pointwise functions ---
    ((2, 3, 4), [{"type": "Pointwise", "op": "exp"}, {"type": "Pointwise", "op": "log1p"}]),
    (
        (2, 3),
        [{"type": "Pointwise", "op": "pow", "exponent": 2}, {"type": "Pointwise", "op": "sqrt"}],
    ),
    (
        (5,),
        [
            {"type": "Pointwise", "op": "clamp", "min": -0.5},
            {"type": "Pointwise", "op": "clamp", "min": 0, "max": 1.5},
        ],
    ),
    (
        (1, 2, 3, 3),
        [
            {"type": "Pointwise", "op": "abs"},
            {"type": "Pointwise", "op": "rsqrt"},
            {"type": "Pointwise", "op": "neg"},
        ],
    ),
    ((4,), [{"type": "Pointwise", "op": "pow"}]),
    # --- einsum ---
    (
        (2, 3, 4),
        [
            {"name": "b", "type": "Input", "shape": [2, 4, 5]},
            {"type": "Einsum", "from": ["input", "b"], "equation": "bij,bjk->bik"},
        ],
    ),
    (
        (3, 4),
        [
            {"name": "b", "type": "Input", "shape": [5, 4]},
            {"type": "Einsum", "from": ["input", "b"], "equation": "ij,kj"},
        ],
    ),
    (
        (3,),
        [
            {"name": "b", "type": "Input", "shape": [5]},
            {"type": "Einsum", "from": ["input", "b"], "equation": "i,j->ij"},
        ],
    ),
    ((3, 2, 4, 5), [{"type": "Einsum", "equation": "bhqd->bqhd"}]),
    ((4, 4), [{"type": "Einsum", "equation": "ii->i"}]),
    (
        (2, 3, 4, 5),
        [
            {"name": "b", "type": "Input", "shape": [2, 6, 3]},
            {"type": "Einsum", "from": ["input", "b"], "equation": "bchw,bkc->bkhw"},
        ],
    ),
    ((2, 3, 4), [{"type": "Einsum", "from": ["input", "input"], "equation": "bij,bij->bi"}]),
    ((5,), [{"type": "Einsum", "from": ["input", "input"], "equation": "i,i->"}]),
    (
        (2, 7, 3, 4),
        [
            {"name": "b", "type": "Input", "shape": [4, 6]},
            {"type": "Einsum", "from": ["input", "b"], "equation": "...ij,jk->...ik"},
        ],
    ),
    (
        (2, 3),
        [
            {"name": "b", "type": "Input", "shape": [3, 4]},
            {"name": "c", "type": "Input", "shape": [4, 5]},
            {"type": "Einsum", "from": ["input", "b", "c"], "equation": "ij,jk,kl->il"},
        ],
    ),
    (
        (2, 4, 3, 5, 6),
        [
            {"name": "k", "type": "Input", "shape": [2, 4, 3, 7, 6]},
            {"type": "Einsum", "from": ["input", "k"], "equation": "BGHID,BGHJD->BGHIJ"},
        ],
    ),
    (
        (1, 3),
        [
            {"name": "b", "type": "Input", "shape": [4, 3]},
            {"type": "Einsum", "from": ["input", "b"], "equation": "ij,kj->ik"},
        ],
    ),
    ((2, 3, 4), [{"type": "Einsum", "equation": "bij->"}]),
    # --- pads ---
    ((1, 2, 5, 7), [{"type": "ZeroPad2d", "padding": [1, 2, 3, 0]}]),
    ((1, 2, 5, 7), [{"type": "ZeroPad2d", "padding": -1}]),
    ((5, 7), [{"type": "ConstantPad2d", "padding": 2, "value": 1.5}]),
    ((1, 2, 5), [{"type": "ConstantPad1d", "padding": [3, 1], "value": 0}]),
    ((1, 2, 3, 4, 5), [{"type": "ConstantPad3d", "padding": [1, 1, 0, 2, 1, 0], "value": 0}]),
    ((1, 2, 5, 7), [{"type": "ReflectionPad2d", "padding": [1, 2, 3, 4]}]),
    ((1, 2, 3, 7), [{"type": "ReflectionPad2d", "padding": [1, 2, 3, 0]}]),
    ((2, 5), [{"type": "ReflectionPad1d", "padding": 4}]),
    ((1, 2, 3, 4, 5), [{"type": "ReflectionPad3d", "padding": 2}]),
    ((1, 2, 5, 7), [{"type": "ReplicationPad2d", "padding": [4, 4, 0, 9]}]),
    ((5,), [{"type": "ReplicationPad1d", "padding": 2}]),
    ((2, 3, 4, 5), [{"type": "ReplicationPad3d", "padding": 1}]),
    # kinds of the zoo's transformers: appended, so the samples other tests take (C[::3]) stay
    (
        (2, 3, 4),
        [
            {"name": "lo", "type": "Parameter", "shape": [3, 1]},
            {"name": "m", "type": "Maximum", "from": ["input", "lo"]},
            {"name": "hi", "type": "Input", "shape": [4]},
            {"type": "Minimum", "from": ["m", "hi"]},
        ],
    ),
    (
        (2, 3, 4),
        [
            {"name": "b", "type": "Input", "shape": [2, 4]},
            {"type": "Maximum", "from": ["input", "b"]},
        ],
    ),
    ((1, 3, 16, 12), [{"type": "Upsample", "size": [7, 5], "mode": "bilinear", "antialias": True}]),
    (
        (1, 3, 8, 8),
        [{"type": "Upsample", "scale_factor": 0.5, "mode": "bicubic", "antialias": True}],
    ),
    ((1, 3, 8, 8), [{"type": "Upsample", "scale_factor": 0.5, "antialias": True}]),
    ((1, 3, 8), [{"type": "Upsample", "size": 3, "mode": "linear", "antialias": True}]),
    ((2, 4, 9, 8), [{"type": "TensorUnfold", "dimension": 2, "size": 4, "step": 2}]),
    ((2, 5), [{"type": "TensorUnfold", "dimension": -1, "size": 5, "step": 3}]),
    ((2, 5), [{"type": "TensorUnfold", "dimension": 1, "size": 6, "step": 1}]),
    ((2, 5), [{"type": "TensorUnfold", "dimension": 2, "size": 1, "step": 1}]),
    (
        (2, 3, 8, 8),
        [
            {"type": "TensorUnfold", "dimension": 2, "size": 4, "step": 4},
            {"type": "TensorUnfold", "dimension": 3, "size": 4, "step": 2},
            {"type": "Reshape", "shape": [2, 3, 2, 3, 16]},
        ],
    ),
    (
        (1, 4, 9, 8),
        [
            {"name": "filt", "type": "Buffer", "shape": [4, 1, 3, 3]},
            {"type": "FunctionalConv2d", "from": ["input", "filt"], "stride": 2, "groups": 4},
        ],
    ),
    (
        (2, 4, 9, 8),
        [
            {"name": "w", "type": "Parameter", "shape": [6, 2, 3, 1]},
            {"name": "b", "type": "Parameter", "shape": [6]},
            {
                "type": "FunctionalConv2d",
                "from": ["input", "w", "b"],
                "padding": [1, 0],
                "dilation": 2,
                "groups": 2,
            },
        ],
    ),
    (
        (1, 4, 9, 8),
        [
            {"name": "w", "type": "Buffer", "shape": [4, 3, 3, 3]},
            {"type": "FunctionalConv2d", "from": ["input", "w"]},
        ],
    ),
    (
        (2, 3, 8, 5),
        [{"type": "ScaledDotProductAttention", "from": ["input"] * 3, "kernel": "math"}],
    ),
    (
        (2, 3, 8, 5),
        [{"type": "ScaledDotProductAttention", "from": ["input"] * 3, "kernel": "flash"}],
    ),
    (
        (2, 3, 8, 5),
        [
            {"name": "m", "type": "Input", "shape": [3, 8, 8]},
            {"type": "ScaledDotProductAttention", "from": ["input", "input", "input", "m"]},
        ],
    ),
    (  # q, k, v whose last dim is not contiguous: torch's CPU math kernel, its products counted
        (2, 3, 8, 5),
        [
            {"name": "t", "type": "Transpose", "dim0": 2, "dim1": 3},
            {"type": "ScaledDotProductAttention", "from": ["t", "t", "t"]},
        ],
    ),
    (
        (2, 3, 8, 5),
        [
            {"name": "t", "type": "Transpose", "dim0": 2, "dim1": 3},
            {"name": "c", "type": "Contiguous"},
            {"type": "ScaledDotProductAttention", "from": ["c", "c", "t"]},
        ],
    ),
    ((1, 3, 9, 8), [{"type": "StdConv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3}]),
    (
        (2, 4, 9, 8),
        [
            {
                "type": "StdConv2d",
                "in_channels": 4,
                "out_channels": 6,
                "kernel_size": [3, 1],
                "stride": 2,
                "padding": 1,
                "groups": 2,
                "bias": False,
                "eps": 1e-5,
                "gain": True,
                "scale": 0.5,
            }
        ],
    ),
    ((1, 3, 2, 2), [{"type": "StdConv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3}]),
    ((2, 5, 6), [{"type": "RMSNorm", "normalized_shape": 6}]),
    ((2, 5, 6), [{"type": "RMSNorm", "normalized_shape": [5, 6], "eps": 1e-6}]),
    ((2, 5, 6), [{"type": "RMSNorm", "normalized_shape": 6, "elementwise_affine": False}]),
    ((2, 5, 6), [{"type": "RMSNorm", "normalized_shape": 5}]),
    ((2, 7, 7, 3), [{"type": "Roll", "shifts": [-3, -3], "dims": [1, 2]}]),
    ((2, 5), [{"type": "Roll", "shifts": 3}]),
    ((2, 5), [{"type": "Roll", "shifts": 1, "dims": []}]),
    ((2, 5), [{"type": "Roll", "shifts": [1, 1], "dims": [0, 0]}]),
    ((2, 5), [{"type": "Roll", "shifts": [2], "dims": -1}]),
    ((2, 5), [{"type": "Roll", "shifts": [1, 2]}]),
    ((2, 5), [{"type": "Roll", "shifts": [1], "dims": [0, 1]}]),
    ((2, 5), [{"type": "Roll", "shifts": 2, "dims": 2}]),
    ((2, 5), [{"type": "Sum"}, {"type": "Roll", "shifts": 1, "dims": 0}]),
    ((2, 8, 5, 5), [{"type": "GroupNorm", "num_groups": 1, "num_channels": 8, "bias": False}]),
    ((2, 8, 5), [{"type": "GroupNorm", "num_groups": 4, "num_channels": 8, "bias": True}]),
    (
        (2, 6, 4),
        [{"type": "GroupNorm", "num_groups": 3, "num_channels": 6, "affine": False, "bias": False}],
    ),
]


@pytest.mark.parametrize("shape,layers", C, ids=[f"{i}-{c[1][0]['type']}" for i, c in enumerate(C)])
def test_layer_matches_torch(shape, layers):
    facts, failed_at = torch_run(shape, layers)
    if failed_at is None:
        assert ours(analysis_of(shape, layers)) == facts
    else:
        with pytest.raises(SpecError) as e:
            analysis_of(shape, layers)
        assert e.value.layer == layers[failed_at].get("name", str(failed_at)), e.value.message


def test_every_listed_type_has_a_case():
    covered = {layer["type"] for _, layers in C for layer in layers}
    listed = set(REGISTRY)
    missing = (
        listed
        - covered
        - {
            "AvgPool1d",
            "AdaptiveAvgPool3d",
            "AdaptiveMaxPool1d",
            "ZeroPad1d",
            "ZeroPad3d",
            "ConstantPad2d",
        }
    )
    assert not missing


INFERRED = [
    (
        (1, 3, 9, 9),
        [
            {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
            {"type": "BatchNorm2d"},
            {"type": "GroupNorm", "num_groups": 2},
            {"type": "InstanceNorm2d", "affine": True},
            {"type": "ConvTranspose2d", "out_channels": 2, "kernel_size": 2},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 5},
        ],
    ),
    (
        (3, 9, 9),
        [
            {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
            {"type": "InstanceNorm2d", "affine": True},
        ],
    ),
    (
        (2, 4, 9),
        [
            {"type": "Conv1d", "out_channels": 4, "kernel_size": 3},
            {"type": "BatchNorm1d"},
            {"type": "Linear", "out_features": 2},
        ],
    ),
]


@pytest.mark.parametrize("shape,layers", INFERRED)
def test_inferred_sizes_build_in_torch(shape, layers):
    """Left-out input sizes are inferred; the torch model built from them runs and agrees."""
    from cnncalc.bridge.verify import verify

    report = verify(analysis_of(shape, layers), device="cpu")
    assert report.ok, report.problems + [r for r in report.rows if not r.ok]


def test_a_batched_constant_has_the_input_batch():
    """``batched: true``: a Constant made at the input's batch (``torch.zeros(x.size(0), 2)``),
    so --batch reaches it; torch's forward and the built model agree at every batch."""
    import torch

    from cnncalc.bridge.verify import verify

    layers = [
        {"name": "c", "type": "Constant", "shape": [1, 2], "batched": True},
        {"type": "Cat", "from": ["input", "c"], "dim": 1},
    ]
    for batch, n in ((None, 3), (5, 5)):
        a = analysis_of((3, 4), layers, batch)
        x = torch.randn(n, 4)
        assert a.output == tuple(torch.cat([x, torch.zeros(x.size(0), 2)], 1).shape) == (n, 6)
        report = verify(a, device="cpu")
        assert report.ok, report.problems
    unbatched = [{"type": "Conv2d", "out_channels": 2, "kernel_size": 1}, *layers]
    with pytest.raises(SpecError) as e:
        analysis_of((3, 4, 4), unbatched)
    assert "batched needs a batched input" in e.value.message
