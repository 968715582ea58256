"""Translation hooks. Identity for now; gettext catalogs (Spanish first) plug in here later."""


def _(text):
    return text


def ngettext(s, p, n):
    return s if n == 1 else p
