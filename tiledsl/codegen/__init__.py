"""Lowered module -> binary: TVM codegen for LLVM and CUDA, our nvcc for CUDA, and artifact folders."""
