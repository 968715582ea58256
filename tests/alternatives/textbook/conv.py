"""Correct `conv` vectorized: im2col with sliding_window_view and einsum; max-pool by window argmax."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _windows(x, kh, kw, stride):
    # (N, C, H_out, W_out, kh, kw)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def conv2d_forward(x, w, b, stride, padding):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = _windows(xp, w.shape[2], w.shape[3], stride)
    return np.einsum("nchwij,fcij->nfhw", cols, w, optimize=True) + b[None, :, None, None]


def conv2d_backward(dout, x, w, b, stride, padding):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = _windows(xp, KH, KW, stride)
    dw = np.einsum("nchwij,nfhw->fcij", cols, dout, optimize=True)
    db = np.einsum("nfhw->f", dout)
    dcols = np.einsum("nfhw,fcij->nchwij", dout, w, optimize=True)
    dxp = np.zeros(xp.shape)
    for i in range(KH):
        for j in range(KW):
            dxp[:, :, i:i + stride * dout.shape[2]:stride, j:j + stride * dout.shape[3]:stride] += dcols[..., i, j]
    return dxp[:, :, padding:padding + H, padding:padding + W], dw, db


def maxpool2d_forward(x, kernel_size, stride):
    return _windows(x, kernel_size, kernel_size, stride).max(axis=(4, 5))


def maxpool2d_backward(dout, x, kernel_size, stride):
    windows = _windows(x, kernel_size, kernel_size, stride)
    N, C, HO, WO = windows.shape[:4]
    first = windows.reshape(N, C, HO, WO, -1).argmax(axis=4)  # the first maximum, row-major, as PyTorch
    dx = np.zeros(x.shape)
    for i in range(HO):
        for j in range(WO):
            p, q = np.divmod(first[:, :, i, j], kernel_size)
            for n in range(N):
                for c in range(C):
                    dx[n, c, i * stride + p[n, c], j * stride + q[n, c]] += dout[n, c, i, j]
    return dx
