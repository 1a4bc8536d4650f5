"""The local solve core: one scipy solve from one start, which never raises.

* :mod:`engine.local.solve`: :func:`~engine.local.solve.solve_one` (and ``solve_each`` /
  ``solve_chunk`` for the executors), used by the driver, diagnostics' re-solves and plots'
  traces alike;
* :mod:`engine.local.setup`: :class:`~engine.local.setup.SolveSetup`, what the solves of one
  problem share (unit-box scaling, bounds in solver coordinates, Nelder-Mead's simplex);
* :mod:`engine.local.objective`: the objective as one solve calls it (counted, time-limited,
  best point kept, each evaluation reported to a callback);
* :mod:`engine.local.watchdog`: the time limit that also ends a call that never returns;
* :mod:`engine.local.methods`: what each scipy method accepts, and ``method="auto"``.
"""
