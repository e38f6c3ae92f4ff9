"""Plain, obviously correct references of every fast kernel, written from the paper and
docs/guide/choices.rst with loops and dense matrices. Tests compare the fast code against these."""
