"""Training of embedding networks; writes run directories through ``runfmt`` (see training.rundir).

Importing this package imports no torch.
"""
