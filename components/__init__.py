"""Pulumi ComponentResources, one concern per module (see docs/ARCHITECTURE.md).

Each takes its own `<Name>Args` of plain values and Inputs, so it can be lifted into another program; the
program (program.py) translates the stack's settings into them.
"""
