"""Functions of a finished result: diagnostics, method comparison and plots."""
