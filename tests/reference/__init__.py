"""Plain, obviously correct references of every fast kernel, written from the paper and
DESIGN.md with loops and dense matrices. Tests compare the fast code against these."""
