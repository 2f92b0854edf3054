"""quartiersim numba kernels: weekly resident rules, plain-Python references, counter-based random numbers."""
