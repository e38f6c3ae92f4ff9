"""TEMPORARY stub, replaced by the module that implements `hambox detect`."""


def register(sub):
    p = sub.add_parser("detect", help="(not yet implemented)")
    p.set_defaults(func=run)


def run(args):
    from hambox_torch.cli import CommandError

    raise CommandError("not implemented yet")
