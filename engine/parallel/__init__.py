"""Where solves run: executors (serial, Dask, concurrent.futures) and cluster kinds.

The only package of the engine that imports dask and distributed.
"""
