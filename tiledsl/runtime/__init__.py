"""@jit, JITKernel, argument checking and launching."""
