"""Exercise `conv`: 2-D convolution and max-pooling, forward and backward, as F.conv2d and F.max_pool2d.

Conventions (stated in every docstring): arrays are NCHW (batch, channels, height, width); stride and
padding are passed explicitly; output sizes are floored, so input sizes the kernel does not divide
drop the last rows and columns; backward functions take the upstream gradient `dout` and the
forward's own inputs and return gradients in the shapes of those inputs.
"""
import numpy as np

from grader.reference import conv as ref
from grader.spec import Arg, Backward, Case, Exercise, Function, Mistake

# With `layout = "features_first"` the course's channels-last arrays are graded: x and out NHWC, kernels
# (KH, KW, C, F) as in the deeplearning.ai tradition; b stays (F,).
NHWC = (0, 2, 3, 1)
KERNEL_HWCF = (2, 3, 1, 0)
CHANNELS_LAST = "\nIn an assignment with layout = \"features_first\", arrays are channels-last instead: {shapes}."
CONV_NHWC = CHANNELS_LAST.format(shapes="x (N, H, W, C), w (KH, KW, C, F), b (F,), out and dout (N, H_out, W_out, F)")
POOL_NHWC = CHANNELS_LAST.format(shapes="x (N, H, W, C), out and dout (N, H_out, W_out, C)")
CHECKS = {"interface": 0.5, "forward": 2.0, "backward": 2.0, "gradcheck": 1.0, "inputs": 0.5}

conv2d = Function(
    name="conv2d_forward",
    args={"x": Arg(shape=("N", "C", "H", "W"), features_first=NHWC),
          "w": Arg(shape=("F", "C", "KH", "KW"), features_first=KERNEL_HWCF), "b": Arg(shape=("F",)),
          "stride": Arg(kind="fixed", value=1, differentiable=False),
          "padding": Arg(kind="fixed", value=0, differentiable=False)},
    reference=ref.conv2d,
    features_first={"out": NHWC},
    # Small shapes: students loop. Non-square kernels, strides and paddings whose output sizes are floored.
    cases=(Case({"N": 2, "C": 3, "H": 5, "W": 5, "F": 4, "KH": 3, "KW": 3}, values={"stride": 1, "padding": 0}),
           Case({"N": 1, "C": 2, "H": 8, "W": 7, "F": 3, "KH": 3, "KW": 2}, values={"stride": 2, "padding": 1}),
           Case({"N": 3, "C": 1, "H": 6, "W": 9, "F": 2, "KH": 2, "KW": 4}, values={"stride": 3, "padding": 2})),
    checks=CHECKS,
    backward=Backward(
        name="conv2d_backward", args=("dout", "x", "w", "b", "stride", "padding"), wrt=("x", "w", "b"),
        doc=("Gradients of conv2d_forward: returns (dx, dw, db) in the shapes of x, w and b.\n\n"
             "dout: (N, F, H_out, W_out) upstream gradient; x, w, b, stride, padding: the forward's inputs. "
             "db sums dout over the batch and every output position; dx is zero-padded like the forward's "
             "input and the padding is cut off again." + CONV_NHWC),
        mistakes=(
            Mistake("conv2d_db_batch_only", "Your db sums dout over the batch only: the bias is added at every "
                    "output position too, so db = dout.sum(axis=(0, 2, 3)).", ref.conv2d_backward_db_batch_only,
                    check="backward"),
            Mistake("conv2d_db_mean", "Your db averages dout; the bias is used once per example and output "
                    "position, so its gradient is the sum: dout.sum(axis=(0, 2, 3)).", ref.conv2d_backward_db_mean,
                    check="backward"),
            Mistake("conv2d_dx_kernel_not_flipped", "Your dx correlates dout with the kernel as it is; the "
                    "gradient of a cross-correlation with respect to its input is a full convolution with the "
                    "kernel flipped (or, equivalently, scatter dout[n, f, i, j] * w[f] back onto the window "
                    "that produced it).", ref.conv2d_backward_dx_kernel_not_flipped, check="backward"),
            Mistake("conv2d_dx_keeps_padding", "Your dx has the padded input's shape: it is the gradient of the "
                    "padded x. Cut the padding off at the end: dx = dxp[:, :, padding:padding + H, padding:padding "
                    "+ W].", ref.conv2d_backward_dx_keeps_padding, check="backward"),
        )),
    mistakes=(Mistake("conv2d_flipped_kernel", "You flipped the kernel (a true convolution). Deep learning's "
                      "conv2d, torch's F.conv2d, is a cross-correlation: out[n, f, i, j] = sum of "
                      "x_window * w[f] with the kernel as it is.", ref.conv2d_flipped_kernel),),
    doc=("2-D convolution as torch's F.conv2d (a cross-correlation: the kernel is not flipped).\n\n"
         "x: (N, C, H, W) inputs; w: (F, C, KH, KW) kernels; b: (F,) biases; stride: int, the step between "
         "windows in both directions; padding: int, zeros added on every side of x's height and width.\n"
         "out[n, f, i, j] = b[f] + sum over c, p, q of xp[n, c, i*stride + p, j*stride + q] * w[f, c, p, q], "
         "where xp is x padded. Returns (N, F, H_out, W_out) with H_out = (H + 2*padding - KH) // stride + 1 "
         "and W_out = (W + 2*padding - KW) // stride + 1 (positions that do not fit are dropped)." + CONV_NHWC),
)

# Integer values repeat, so windows hold ties; the second case's windows overlap.
_TIES = np.array([[3, 3, 1, 0, 2], [3, 3, 1, 2, 2], [0, 1, 1, 1, 0], [0, 0, 4, 4, 0]], dtype=np.float64)

maxpool2d = Function(
    name="maxpool2d_forward",
    args={"x": Arg(shape=("N", "C", "H", "W"), features_first=NHWC),
          "kernel_size": Arg(kind="fixed", value=2, differentiable=False),
          "stride": Arg(kind="fixed", value=2, differentiable=False)},
    reference=ref.maxpool2d,
    features_first={"out": NHWC},
    cases=(Case({"N": 2, "C": 3, "H": 4, "W": 4}, values={"kernel_size": 2, "stride": 2}),
           Case({"N": 1, "C": 2, "H": 7, "W": 5}, values={"kernel_size": 3, "stride": 2}),
           Case({"N": 2, "C": 1, "H": 5, "W": 6}, values={"kernel_size": 2, "stride": 1})),
    checks={**CHECKS, "kink": 1.0},
    kinks=({"x": [[_TIES]], "kernel_size": 2, "stride": 2},
           {"x": [[_TIES, np.zeros_like(_TIES)]], "kernel_size": 2, "stride": 1}),
    backward=Backward(
        name="maxpool2d_backward", args=("dout", "x", "kernel_size", "stride"), wrt=("x",),
        doc=("Gradient of maxpool2d_forward: dx has x's shape; each window passes dout[n, c, i, j] to the "
             "element that is its maximum, and where windows overlap the contributions add up.\n\n"
             "dout: (N, C, H_out, W_out); x, kernel_size, stride: the forward's inputs. When several elements "
             "of a window tie for the maximum, the gradient goes to the first of them in row-major order "
             "(as np.argmax over the flattened window, and as PyTorch does)." + POOL_NHWC),
        mistakes=(
            Mistake("maxpool2d_every_tie", "Your backward gives the gradient to every element that ties for "
                    "its window's maximum; only one element is the maximum's source: the first in row-major "
                    "order (np.argmax over the flattened window), as in PyTorch.",
                    ref.maxpool2d_backward_every_tie, check="backward"),
            Mistake("maxpool2d_average", "Your backward spreads dout evenly over each window, as average "
                    "pooling does; max-pooling passes it only to the window's maximum.",
                    ref.maxpool2d_backward_average, check="backward"),
            Mistake("maxpool2d_overwrite", "Your backward assigns dx[...] = dout where windows overlap, so a "
                    "later window overwrites an earlier one's gradient; accumulate with +=.",
                    ref.maxpool2d_backward_overwrite, check="backward"),
            Mistake("maxpool2d_whole_window", "Your backward passes dout to every element of the window; only the "
                    "window's maximum affected the output, so only it gets the gradient (dx = dout at the argmax, "
                    "0 elsewhere).", ref.maxpool2d_backward_whole_window, check="backward"),
        )),
    doc=("Max-pooling as torch's F.max_pool2d (no padding, sizes floored).\n\n"
         "x: (N, C, H, W); kernel_size: int, the side of the square window; stride: int, the step between "
         "windows. out[n, c, i, j] = max of x[n, c, i*stride : i*stride + kernel_size, j*stride : "
         "j*stride + kernel_size]. Returns (N, C, H_out, W_out) with H_out = (H - kernel_size) // stride + 1, "
         "likewise W_out." + POOL_NHWC),
)

EXERCISE = Exercise(
    id="conv",
    title="Convolution and max-pooling",
    units=(conv2d, maxpool2d),
    starter="conv.py",
    description=__doc__,
)
