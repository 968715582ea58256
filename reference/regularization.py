"""PyTorch references for the `regularization` exercise: inverted dropout with a given mask, and
batch normalization exactly as torch.nn.BatchNorm1d (F.batch_norm with running-stat tensors)."""
from grader.lazy import F


def dropout(x, mask, p_drop, training):
    """Inverted dropout: kept units are scaled by 1 / (1 - p_drop) so that eval mode is the identity.
    torch.nn.functional.dropout draws its own mask; the grader supplies it, so the formula is written out."""
    return x * mask / (1.0 - p_drop) if training else x * 1.0


def batchnorm(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    """(out, new running mean, new running variance). F.batch_norm updates the running tensors in
    place: new = (1 - momentum) * old + momentum * batch statistic, with the unbiased batch variance."""
    running_mean, running_var = running_mean.clone(), running_var.clone()
    out = F.batch_norm(x, running_mean, running_var, weight=gamma, bias=beta, training=training,
                       momentum=momentum, eps=eps)
    return out, running_mean, running_var
