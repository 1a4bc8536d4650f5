"""Fitting: least-squares multistart (:func:`engine.least_squares`) and model fits to data
(:func:`engine.curve_fit`), with the covariance and identifiability of the best fit."""
