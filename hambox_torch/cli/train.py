"""TEMPORARY stub, replaced by the module that implements `hambox train`."""


def register(sub):
    p = sub.add_parser("train", help="(not yet implemented)")
    p.set_defaults(func=run)


def run(args):
    from hambox_torch.cli import CommandError

    raise CommandError("not implemented yet")
