"""TEMPORARY stub, replaced by the module that implements `hambox anchors`."""


def register(sub):
    p = sub.add_parser("anchors", help="(not yet implemented)")
    p.set_defaults(func=run)


def run(args):
    from hambox_torch.cli import CommandError

    raise CommandError("not implemented yet")
