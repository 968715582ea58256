"""float32 arithmetic throughout (the model solution's algebra) for the `conv` exercise."""
import numpy as np


def _float32(fn):
    """Compute in float32: every float array argument is cast on the way in (a student's float32 code)."""
    def wrapped(*args):
        return fn(*(a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args))
    wrapped.__name__ = fn.__name__
    return wrapped


@_float32
def conv2d_forward(x, w, b, stride, padding):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    H_out = (H + 2 * padding - KH) // stride + 1
    W_out = (W + 2 * padding - KW) // stride + 1
    out = np.empty((N, F, H_out, W_out), np.float32)
    for i in range(H_out):
        for j in range(W_out):
            window = xp[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + b.reshape(1, F, 1, 1)


@_float32
def conv2d_backward(dout, x, w, b, stride, padding):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + KH)
            cols = slice(j * stride, j * stride + KW)
            d = dout[:, :, i, j]  # (N, F)
            dw += np.tensordot(d, xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(d, w, axes=([1], [0]))
    dx = dxp[:, :, padding:padding + H, padding:padding + W]
    return dx, dw, dout.sum(axis=(0, 2, 3))


@_float32
def maxpool2d_forward(x, kernel_size, stride):
    N, C, H, W = x.shape
    H_out = (H - kernel_size) // stride + 1
    W_out = (W - kernel_size) // stride + 1
    out = np.empty((N, C, H_out, W_out), np.float32)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


@_float32
def maxpool2d_backward(dout, x, kernel_size, stride):
    N, C, H, W = x.shape
    dx = np.zeros_like(x)
    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            # argmax of the flattened window: the first maximum in row-major order, as PyTorch.
            first = window.reshape(N, C, -1).argmax(axis=2)
            p, q = np.unravel_index(first, (kernel_size, kernel_size))
            np.add.at(dx, (n, c, i * stride + p, j * stride + q), dout[:, :, i, j])
    return dx
