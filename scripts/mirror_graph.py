"""Wrap an exported classifier so that one call averages a face and its mirror image (flip TTA in the graph).

    python scripts/mirror_graph.py SRC.onnx OUT.onnx

The input stays (N, 48, 48, 1) and the output (N, 7): the wrapped graph stacks
the faces and their left-right mirror images into one batch of 2N, runs the
original graph once on it, and averages each face's two probability rows. So
the app, the CLI and `evaluate` use it like any model, at about twice the cost
per face. Works on float32 and int8 (QDQ) graphs alike.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mirror_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    (face,) = graph.input
    (probs,) = graph.output
    if len(face.type.tensor_type.shape.dim) != 4:
        raise SystemExit(f"expected an (N, H, W, C) input, got {face.name} with another rank")
    stacked, inner = f"{face.name}_and_mirror", f"{probs.name}_stacked"
    for node in graph.node:
        node.input[:] = [stacked if name == face.name else name for name in node.input]
        node.output[:] = [inner if name == probs.name else name for name in node.output]
    constants = {
        "mirror_starts": [-1],
        "mirror_ends": [-(2**62)],
        "mirror_axes": [2],  # W in NHWC
        "mirror_steps": [-1],
        "pairs_shape": [2, -1, probs.type.tensor_type.shape.dim[1].dim_value],
    }
    graph.initializer.extend(numpy_helper.from_array(np.array(v, dtype=np.int64), name) for name, v in constants.items())
    head = [
        helper.make_node("Slice", [face.name, "mirror_starts", "mirror_ends", "mirror_axes", "mirror_steps"], ["mirrored"]),
        helper.make_node("Concat", [face.name, "mirrored"], [stacked], axis=0),
    ]
    if {o.domain: o.version for o in model.opset_import}.get("", 0) >= 18:  # axes became an input
        graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "pairs_axis"))
        mean = helper.make_node("ReduceMean", ["pairs", "pairs_axis"], [probs.name], keepdims=0)
    else:
        mean = helper.make_node("ReduceMean", ["pairs"], [probs.name], axes=[0], keepdims=0)
    tail = [helper.make_node("Reshape", [inner, "pairs_shape"], ["pairs"]), mean]
    nodes = head + list(graph.node) + tail
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]  # shapes inside changed (2N); ONNX Runtime infers them again
    assert probs.type.tensor_type.elem_type == TensorProto.FLOAT
    onnx.checker.check_model(model)
    return model


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1:]
    onnx.save(mirror_graph(onnx.load(src)), out)
    print(f"{out}: {src} with mirror averaging")


if __name__ == "__main__":
    main()
