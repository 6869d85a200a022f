"""Training of embedding networks; writes run directories (see training.rundir).

Importing this package imports no torch: ``training.rundir`` is read by torch-free code.
"""
