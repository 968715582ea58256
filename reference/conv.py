"""PyTorch references for the convolutional layers, and the catalogued wrong variants.

Every function takes float64 tensors (and the integer hyperparameters) in the documented argument
order. conv2d is torch's F.conv2d: cross-correlation on NCHW arrays, symmetric zero padding, sizes
floored. Max-pooling is F.max_pool2d without padding or ceil mode; at ties its gradient goes to the
first maximum of the window in row-major order.
"""
from grader.lazy import F, torch


def conv2d(x, w, b, stride, padding):
    return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=1, groups=1)


def maxpool2d(x, kernel_size, stride):
    return F.max_pool2d(x, kernel_size, stride=stride, padding=0, dilation=1, ceil_mode=False)


# ----------------------------------------------------------------------------- catalogued mistakes


def conv2d_flipped_kernel(x, w, b, stride, padding):
    """A true convolution (the kernel flipped), where deep learning's conv2d is a cross-correlation."""
    return conv2d(x, w.flip((2, 3)), b, stride, padding)


def _conv2d_grads(dout, x, w, stride, padding, weight=None):
    dx = torch.nn.grad.conv2d_input(x.shape, w if weight is None else weight, dout, stride=stride, padding=padding)
    return dx, torch.nn.grad.conv2d_weight(x, w.shape, dout, stride=stride, padding=padding)


def conv2d_backward_db_batch_only(dout, x, w, b, stride, padding):
    """db summed over the batch but not over the output positions."""
    return (*_conv2d_grads(dout, x, w, stride, padding), dout.sum(0))


def conv2d_backward_db_mean(dout, x, w, b, stride, padding):
    """db averaged instead of summed over the batch and positions."""
    return (*_conv2d_grads(dout, x, w, stride, padding), dout.mean((0, 2, 3)))


def conv2d_backward_dx_kernel_not_flipped(dout, x, w, b, stride, padding):
    """dx as a full convolution of dout with the kernel unflipped."""
    dx, dw = _conv2d_grads(dout, x, w, stride, padding, weight=w.flip((2, 3)))
    return dx, dw, dout.sum((0, 2, 3))


def conv2d_backward_dx_keeps_padding(dout, x, w, b, stride, padding):
    """dx of the padded input, returned without cutting the padding off: (N, C, H + 2p, W + 2p)."""
    xp = F.pad(x, (padding, padding, padding, padding))
    dx, dw = _conv2d_grads(dout, xp, w, stride, 0)
    return dx, dw, dout.sum((0, 2, 3))


def _windows(dout, kernel_size, stride):
    """(rows, cols, upstream gradient) of every pooling window, in row-major order."""
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + kernel_size)
            cols = slice(j * stride, j * stride + kernel_size)
            yield rows, cols, dout[:, :, i, j, None, None]


def _first_max_mask(window):
    """1 at the first maximum of each window (row-major), as torch's argmax picks it."""
    n, c, h, w = window.shape
    first = window.reshape(n, c, h * w).argmax(2)
    return F.one_hot(first, h * w).reshape(n, c, h, w).to(window.dtype)


def maxpool2d_backward_every_tie(dout, x, kernel_size, stride):
    """The gradient given to every element equal to its window's maximum."""
    dx = torch.zeros_like(x)
    for rows, cols, d in _windows(dout, kernel_size, stride):
        window = x[:, :, rows, cols]
        dx[:, :, rows, cols] += d * (window == window.amax((2, 3), keepdim=True))
    return dx


def maxpool2d_backward_average(dout, x, kernel_size, stride):
    """The gradient spread evenly over each window, as average pooling's."""
    dx = torch.zeros_like(x)
    for rows, cols, d in _windows(dout, kernel_size, stride):
        dx[:, :, rows, cols] += d / kernel_size ** 2
    return dx


def maxpool2d_backward_whole_window(dout, x, kernel_size, stride):
    """dout given to every element of its window, not only to the maximum."""
    dx = torch.zeros_like(x)
    for rows, cols, d in _windows(dout, kernel_size, stride):
        dx[:, :, rows, cols] += d
    return dx


def maxpool2d_backward_overwrite(dout, x, kernel_size, stride):
    """dx[max] = dout instead of +=: where windows overlap, a later window's gradient replaces the
    earlier ones'."""
    dx = torch.zeros_like(x)
    for rows, cols, d in _windows(dout, kernel_size, stride):
        mask = _first_max_mask(x[:, :, rows, cols])
        dx[:, :, rows, cols] = torch.where(mask.bool(), d.expand_as(mask), dx[:, :, rows, cols])
    return dx
