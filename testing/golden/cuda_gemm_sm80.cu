
#ifdef __CUDACC_RTC__
  #include <cuda/std/cstdint>
  using cuda::std::uint8_t;
  using cuda::std::uint16_t;
  using cuda::std::uint32_t;
  using cuda::std::uint64_t;
  using cuda::std::int8_t;
  using cuda::std::int16_t;
  using cuda::std::int32_t;
  using cuda::std::int64_t;

  #include <cuda/std/type_traits>
  namespace std {
    using cuda::std::is_same;
    using cuda::std::is_same_v;
    using cuda::std::is_integral;
    using cuda::std::is_signed;
    using cuda::std::is_unsigned;
    using cuda::std::is_floating_point;
    using cuda::std::enable_if;
    using cuda::std::conditional;
  }

  // NVRTC uses asm/volatile instead of __asm__/__volatile__ (gcc extension).
  #ifndef __asm__
  #define __asm__ asm
  #endif
  #ifndef __volatile__
  #define __volatile__ volatile
  #endif
#else
  #include <cstdint>
  #include <type_traits>
  #include <cuda.h>
#endif

#if !defined(__CUDA_ARCH__) || (__CUDA_ARCH__ >= 530)
#include <cuda_fp16.h>
__device__ half max(half a, half b)
{
  return __hgt(__half(a), __half(b)) ? a : b;
}
__device__ half min(half a, half b)
{
  return __hlt(__half(a), __half(b)) ? a : b;
}
#endif // __CUDA_ARCH__ >= 530

// Pack two half values.
static inline __device__ __host__ unsigned
__pack_half2(const half x, const half y) {
  unsigned v0 = *((unsigned short *)&x);
  unsigned v1 = *((unsigned short *)&y);
  return (v1 << 16) | v0;
}

#define CUDA_UNSUPPORTED_HALF_MATH_BINARY(HALF_MATH_NAME, FP32_MATH_NAME) \
static inline __device__ __host__ half HALF_MATH_NAME(half x, half y) {   \
  float tmp_x = __half2float(x);                                          \
  float tmp_y = __half2float(y);                                          \
  float result = FP32_MATH_NAME(tmp_x, tmp_y);                            \
  return __float2half(result);                                            \
}

#define CUDA_UNSUPPORTED_HALF_MATH_UNARY(HALF_MATH_NAME, FP32_MATH_NAME) \
static inline __device__ __host__ half HALF_MATH_NAME(half x) {          \
  float tmp_x = __half2float(x);                                         \
  float result = FP32_MATH_NAME(tmp_x);                                  \
  return __float2half(result);                                           \
}

// Some fp16 math functions are not supported in cuda_fp16.h,
// so we define them here to make sure the generated CUDA code
// is valid.
#if defined(__CUDA_ARCH__)
#if (__CUDA_ARCH__ >= 530)
CUDA_UNSUPPORTED_HALF_MATH_BINARY(hpow, powf)
#if ((__CUDACC_VER_MAJOR__ < 12) || ((__CUDACC_VER_MAJOR__ == 12) && (__CUDACC_VER_MINOR__ < 8)))
CUDA_UNSUPPORTED_HALF_MATH_UNARY(htanh, tanhf)
#endif
CUDA_UNSUPPORTED_HALF_MATH_UNARY(htan, tanf)
CUDA_UNSUPPORTED_HALF_MATH_UNARY(hatan, atanf)
CUDA_UNSUPPORTED_HALF_MATH_UNARY(herf, erf)
#else
CUDA_UNSUPPORTED_HALF_MATH_UNARY(hexp, exp)
#endif
#endif

#undef CUDA_UNSUPPORTED_HALF_MATH_BINARY
#undef CUDA_UNSUPPORTED_HALF_MATH_UNARY

template <typename T, typename TVec2>
struct __align__(8) half4_bfloat164 {
  T x, y, z, w;
  __host__ __device__ half4_bfloat164() : x(T(0)), y(T(0)), z(T(0)), w(T(0)) {}
  __host__ __device__ half4_bfloat164(T x, T y, T z, T w) : x(x), y(y), z(z), w(w) {}

};

using half4 = half4_bfloat164<__half, __half2>;
__host__ __device__ half4 make_half4(__half x, __half y, __half z, __half w) {
    return half4(x, y, z, w);
}

#if (((__CUDACC_VER_MAJOR__ == 11) && (__CUDACC_VER_MINOR__ >= 4)) || \
     (__CUDACC_VER_MAJOR__ > 11))
#define TVM_ENABLE_L2_PREFETCH 1
#else
#define TVM_ENABLE_L2_PREFETCH 0
#endif

#ifdef _WIN32
  using uint = unsigned int;
  using uchar = unsigned char;
  using ushort = unsigned short;
  using int64_t = long long;
  using uint64_t = unsigned long long;
#else
  #define uint unsigned int
  #define uchar unsigned char
  #define ushort unsigned short
#endif
__forceinline__ __device__ half2 tiledsl_pack_f16x2(float lo, float hi) {
  half2 out;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(*reinterpret_cast<unsigned*>(&out)) : "f"(hi), "f"(lo));
  return out;
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_wait_group_async_wait_group_0() {
  asm volatile("cp.async.wait_group 0;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(float& __d0, float& __d1, float& __d2, float& __d3, uint32_t __a0, uint32_t __a1, uint32_t __a2, uint32_t __a3, uint32_t __b0, uint32_t __b1, float __c0, float __c1, float __c2, float __c3) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};" : "=f"(__d0), "=f"(__d1), "=f"(__d2), "=f"(__d3) : "r"(__a0), "r"(__a1), "r"(__a2), "r"(__a3), "r"(__b0), "r"(__b1), "f"(__c0), "f"(__c1), "f"(__c2), "f"(__c3));
}
__forceinline__ __device__ void tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_trans_shared_b16(uint32_t& __r0, uint32_t& __r1, uint32_t& __r2, uint32_t& __r3, uint32_t __p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];" : "=r"(__r0), "=r"(__r1), "=r"(__r2), "=r"(__r3) : "r"(__p) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(uint32_t& __r0, uint32_t& __r1, uint32_t& __r2, uint32_t& __r3, uint32_t __p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];" : "=r"(__r0), "=r"(__r1), "=r"(__r2), "=r"(__r3) : "r"(__p) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_cg_src_size_async_cg_shared_global_16(uint32_t __dst_mem, const void* __src_mem, uint32_t __src_size) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :  : "r"(__dst_mem), "l"(__src_mem), "r"(__src_size) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_wait_group_async_wait_group_1() {
  asm volatile("cp.async.wait_group 1;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_commit_group_async_commit_group() {
  asm volatile("cp.async.commit_group;" :  : );
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(uint32_t __dst_mem, const void* __src_mem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :  : "r"(__dst_mem), "l"(__src_mem) : "memory");
}

__forceinline__ __device__ unsigned int tvm_builtin_cuda_cvta_generic_to_shared(void* p) {
    return __cvta_generic_to_shared(p);
}
extern "C" __global__ void __launch_bounds__(256) kernel_kernel(half* __restrict__ A_ptr, half* __restrict__ B_ptr, half* __restrict__ C_ptr);
extern "C" __global__ void __launch_bounds__(256) kernel_kernel(half* __restrict__ A_ptr, half* __restrict__ B_ptr, half* __restrict__ C_ptr) {
  alignas(64) float C_f_ptr[64];
  alignas(64) uint a_frag_ptr[16];
  alignas(64) uint b_frag_ptr[8];
  extern __shared__ __align__(64) uchar smem_pool_ptr[];
  half* A_s = ((half*)(&(smem_pool_ptr[0])));
  half* B_s = ((half*)(&(smem_pool_ptr[24576])));
  *(float2*)(C_f_ptr + 0) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 2) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 4) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 6) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 8) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 10) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 12) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 14) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 16) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 18) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 20) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 22) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 24) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 26) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 28) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 30) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 32) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 34) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 36) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 38) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 40) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 42) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 44) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 46) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 48) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 50) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 52) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 54) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 56) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 58) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 60) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  *(float2*)(C_f_ptr + 62) = make_float2(0x0p+0f/*0.000000e+00*/, 0x0p+0f/*0.000000e+00*/);
  int cse_v1 = (((int)threadIdx.x) >> 2);
  int cse_v2 = (((int)threadIdx.x) & 3);
  int cse_v3 = (((int)threadIdx.x) & 31);
  int cse_v4 = (((int)blockIdx.y) * 65536);
  int cse_v12 = ((((int)threadIdx.x) >> 2) * 32);
  int cse_v13 = ((((int)threadIdx.x) >> 2) * 512);
  int cse_v14 = ((((int)threadIdx.x) & 3) * 8);
  int cse_v25 = ((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512));
  int cse_v28 = (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8);
  int cse_v29 = (((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512)) + ((((int)threadIdx.x) & 3) * 8));
  int cse_v35 = (((((int)threadIdx.x) >> 2) * 32) + (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8));
  tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[(((((int)threadIdx.x) >> 2) * 32) + (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8))]))), (&(A_ptr[(((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512)) + ((((int)threadIdx.x) & 3) * 8))])));
  tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((int)threadIdx.x) >> 2) * 32) + (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8)) + 2048)]))), (&(A_ptr[((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512)) + ((((int)threadIdx.x) & 3) * 8)) + 32768)])));
  int cse_v5 = (((int)threadIdx.x) & 7);
  int cse_v6 = (((int)threadIdx.x) & 127);
  int cse_v7 = (((int)blockIdx.x) * 128);
  int cse_v8 = (((int)threadIdx.x) & 15);
  int cse_v15 = ((((int)threadIdx.x) >> 3) * 64);
  int cse_v16 = ((((int)threadIdx.x) >> 4) * 512);
  int cse_v17 = ((((int)threadIdx.x) & 15) * 8);
  int cse_v30 = (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8);
  int cse_v31 = ((((((int)threadIdx.x) >> 4) * 512) + (((int)blockIdx.x) * 128)) + ((((int)threadIdx.x) & 15) * 8));
  int cse_v36 = (((((int)threadIdx.x) >> 3) * 64) + (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8));
  tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[(((((int)threadIdx.x) >> 3) * 64) + (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8))]))), (&(B_ptr[((((((int)threadIdx.x) >> 4) * 512) + (((int)blockIdx.x) * 128)) + ((((int)threadIdx.x) & 15) * 8))])));
  tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[((((((int)threadIdx.x) >> 3) * 64) + (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8)) + 2048)]))), (&(B_ptr[(((((((int)threadIdx.x) >> 4) * 512) + (((int)blockIdx.x) * 128)) + ((((int)threadIdx.x) & 15) * 8)) + 8192)])));
  tvm_builtin_ptx_cp_async_commit_group_async_commit_group();
  tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((int)threadIdx.x) >> 2) * 32) + (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8)) + 4096)]))), (&(A_ptr[((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512)) + ((((int)threadIdx.x) & 3) * 8)) + 32)])));
  tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((int)threadIdx.x) >> 2) * 32) + (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8)) + 6144)]))), (&(A_ptr[((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512)) + ((((int)threadIdx.x) & 3) * 8)) + 32800)])));
  tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[((((((int)threadIdx.x) >> 3) * 64) + (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8)) + 4096)]))), (&(B_ptr[(((((((int)threadIdx.x) >> 4) * 512) + (((int)blockIdx.x) * 128)) + ((((int)threadIdx.x) & 15) * 8)) + 16384)])));
  tvm_builtin_ptx_cp_async_cg_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[((((((int)threadIdx.x) >> 3) * 64) + (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8)) + 6144)]))), (&(B_ptr[(((((((int)threadIdx.x) >> 4) * 512) + (((int)blockIdx.x) * 128)) + ((((int)threadIdx.x) & 15) * 8)) + 24576)])));
  tvm_builtin_ptx_cp_async_commit_group_async_commit_group();
  int cse_v11 = (((int)threadIdx.x) >> 7);
  int cse_v24 = ((((int)threadIdx.x) & 127) >> 5);
  for (int ko_p = 0; ko_p < 16; ++ko_p) {
    tvm_builtin_ptx_cp_async_wait_group_async_wait_group_1();
    __syncthreads();
    if (ko_p < 14) {
      int cse_v9 = (ko_p * 32);
      int cse_v26 = (((ko_p + 2) % 3) * 4096);
      int cse_v37 = (((((ko_p + 2) % 3) * 4096) + ((((int)threadIdx.x) >> 2) * 32)) + (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8));
      int cse_v38 = ((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512)) + (ko_p * 32)) + ((((int)threadIdx.x) & 3) * 8));
      tvm_builtin_ptx_cp_async_cg_src_size_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[(((((ko_p + 2) % 3) * 4096) + ((((int)threadIdx.x) >> 2) * 32)) + (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8))]))), (&(A_ptr[(((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512)) + (ko_p * 32)) + ((((int)threadIdx.x) & 3) * 8)) + 64)])), (uint)16);
      tvm_builtin_ptx_cp_async_cg_src_size_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((ko_p + 2) % 3) * 4096) + ((((int)threadIdx.x) >> 2) * 32)) + (((((int)threadIdx.x) & 3) ^ ((((int)threadIdx.x) & 31) >> 3)) * 8)) + 2048)]))), (&(A_ptr[(((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 2) * 512)) + (ko_p * 32)) + ((((int)threadIdx.x) & 3) * 8)) + 32832)])), (uint)16);
      int cse_v10 = (ko_p * 16384);
      int cse_v39 = (((((ko_p + 2) % 3) * 4096) + ((((int)threadIdx.x) >> 3) * 64)) + (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8));
      int cse_v40 = ((((ko_p * 16384) + ((((int)threadIdx.x) >> 4) * 512)) + (((int)blockIdx.x) * 128)) + ((((int)threadIdx.x) & 15) * 8));
      tvm_builtin_ptx_cp_async_cg_src_size_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[(((((ko_p + 2) % 3) * 4096) + ((((int)threadIdx.x) >> 3) * 64)) + (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8))]))), (&(B_ptr[(((((ko_p * 16384) + ((((int)threadIdx.x) >> 4) * 512)) + (((int)blockIdx.x) * 128)) + ((((int)threadIdx.x) & 15) * 8)) + 32768)])), (uint)16);
      tvm_builtin_ptx_cp_async_cg_src_size_async_cg_shared_global_16(tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[((((((ko_p + 2) % 3) * 4096) + ((((int)threadIdx.x) >> 3) * 64)) + (((((int)threadIdx.x) & 7) ^ ((((int)threadIdx.x) & 127) >> 4)) * 8)) + 2048)]))), (&(B_ptr[(((((ko_p * 16384) + ((((int)threadIdx.x) >> 4) * 512)) + (((int)blockIdx.x) * 128)) + ((((int)threadIdx.x) & 15) * 8)) + 40960)])), (uint)16);
    }
    tvm_builtin_ptx_cp_async_commit_group_async_commit_group();
    int cse_v18 = ((ko_p % 3) * 4096);
    int cse_v19 = ((((int)threadIdx.x) >> 7) * 2048);
    int cse_v20 = ((((int)threadIdx.x) & 15) * 32);
    int cse_v21 = ((((int)threadIdx.x) & 31) >> 4);
    int cse_v22 = ((((int)threadIdx.x) & 7) >> 1);
    int cse_v32 = ((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32));
    int cse_v33 = ((((((int)threadIdx.x) & 31) >> 4) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8);
    int cse_v41 = (((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + ((((((int)threadIdx.x) & 31) >> 4) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[(((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + ((((((int)threadIdx.x) & 31) >> 4) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8))]))));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + ((((((int)threadIdx.x) & 31) >> 4) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8)) + 512)]))));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + ((((((int)threadIdx.x) & 31) >> 4) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8)) + 1024)]))));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + ((((((int)threadIdx.x) & 31) >> 4) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8)) + 1536)]))));
    int cse_v23 = ((((int)threadIdx.x) & 15) * 128);
    int cse_v27 = (((((int)threadIdx.x) & 127) >> 6) * 64);
    int cse_v34 = ((((ko_p % 3) * 4096) + ((((int)threadIdx.x) & 15) * 128)) + (((((int)threadIdx.x) & 127) >> 6) * 64));
    int cse_v43 = ((((((((int)threadIdx.x) & 63) >> 5) * 4) + ((((int)threadIdx.x) & 31) >> 4)) ^ (((int)threadIdx.x) & 7)) * 8);
    int cse_v45 = (((((ko_p % 3) * 4096) + ((((int)threadIdx.x) & 15) * 128)) + (((((int)threadIdx.x) & 127) >> 6) * 64)) + ((((((((int)threadIdx.x) & 63) >> 5) * 4) + ((((int)threadIdx.x) & 31) >> 4)) ^ (((int)threadIdx.x) & 7)) * 8));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_trans_shared_b16(b_frag_ptr[0], b_frag_ptr[1], b_frag_ptr[2], b_frag_ptr[3], tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[(((((ko_p % 3) * 4096) + ((((int)threadIdx.x) & 15) * 128)) + (((((int)threadIdx.x) & 127) >> 6) * 64)) + ((((((((int)threadIdx.x) & 63) >> 5) * 4) + ((((int)threadIdx.x) & 31) >> 4)) ^ (((int)threadIdx.x) & 7)) * 8))]))));
    int cse_v47 = ((((((((((int)threadIdx.x) & 127) >> 5) * 4) + ((((int)threadIdx.x) & 31) >> 4)) + 2) & 7) ^ (((int)threadIdx.x) & 7)) * 8);
    int cse_v48 = (((((ko_p % 3) * 4096) + ((((int)threadIdx.x) & 15) * 128)) + (((((int)threadIdx.x) & 127) >> 6) * 64)) + ((((((((((int)threadIdx.x) & 127) >> 5) * 4) + ((((int)threadIdx.x) & 31) >> 4)) + 2) & 7) ^ (((int)threadIdx.x) & 7)) * 8));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_trans_shared_b16(b_frag_ptr[4], b_frag_ptr[5], b_frag_ptr[6], b_frag_ptr[7], tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[(((((ko_p % 3) * 4096) + ((((int)threadIdx.x) & 15) * 128)) + (((((int)threadIdx.x) & 127) >> 6) * 64)) + ((((((((((int)threadIdx.x) & 127) >> 5) * 4) + ((((int)threadIdx.x) & 31) >> 4)) + 2) & 7) ^ (((int)threadIdx.x) & 7)) * 8))]))));
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[0], C_f_ptr[1], C_f_ptr[2], C_f_ptr[3], a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], b_frag_ptr[0], b_frag_ptr[1], C_f_ptr[0], C_f_ptr[1], C_f_ptr[2], C_f_ptr[3]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[4], C_f_ptr[5], C_f_ptr[6], C_f_ptr[7], a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], b_frag_ptr[2], b_frag_ptr[3], C_f_ptr[4], C_f_ptr[5], C_f_ptr[6], C_f_ptr[7]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[8], C_f_ptr[9], C_f_ptr[10], C_f_ptr[11], a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], b_frag_ptr[4], b_frag_ptr[5], C_f_ptr[8], C_f_ptr[9], C_f_ptr[10], C_f_ptr[11]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[12], C_f_ptr[13], C_f_ptr[14], C_f_ptr[15], a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], b_frag_ptr[6], b_frag_ptr[7], C_f_ptr[12], C_f_ptr[13], C_f_ptr[14], C_f_ptr[15]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[16], C_f_ptr[17], C_f_ptr[18], C_f_ptr[19], a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], b_frag_ptr[0], b_frag_ptr[1], C_f_ptr[16], C_f_ptr[17], C_f_ptr[18], C_f_ptr[19]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[20], C_f_ptr[21], C_f_ptr[22], C_f_ptr[23], a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], b_frag_ptr[2], b_frag_ptr[3], C_f_ptr[20], C_f_ptr[21], C_f_ptr[22], C_f_ptr[23]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[24], C_f_ptr[25], C_f_ptr[26], C_f_ptr[27], a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], b_frag_ptr[4], b_frag_ptr[5], C_f_ptr[24], C_f_ptr[25], C_f_ptr[26], C_f_ptr[27]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[28], C_f_ptr[29], C_f_ptr[30], C_f_ptr[31], a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], b_frag_ptr[6], b_frag_ptr[7], C_f_ptr[28], C_f_ptr[29], C_f_ptr[30], C_f_ptr[31]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[32], C_f_ptr[33], C_f_ptr[34], C_f_ptr[35], a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], b_frag_ptr[0], b_frag_ptr[1], C_f_ptr[32], C_f_ptr[33], C_f_ptr[34], C_f_ptr[35]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[36], C_f_ptr[37], C_f_ptr[38], C_f_ptr[39], a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], b_frag_ptr[2], b_frag_ptr[3], C_f_ptr[36], C_f_ptr[37], C_f_ptr[38], C_f_ptr[39]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[40], C_f_ptr[41], C_f_ptr[42], C_f_ptr[43], a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], b_frag_ptr[4], b_frag_ptr[5], C_f_ptr[40], C_f_ptr[41], C_f_ptr[42], C_f_ptr[43]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[44], C_f_ptr[45], C_f_ptr[46], C_f_ptr[47], a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], b_frag_ptr[6], b_frag_ptr[7], C_f_ptr[44], C_f_ptr[45], C_f_ptr[46], C_f_ptr[47]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[48], C_f_ptr[49], C_f_ptr[50], C_f_ptr[51], a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], b_frag_ptr[0], b_frag_ptr[1], C_f_ptr[48], C_f_ptr[49], C_f_ptr[50], C_f_ptr[51]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[52], C_f_ptr[53], C_f_ptr[54], C_f_ptr[55], a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], b_frag_ptr[2], b_frag_ptr[3], C_f_ptr[52], C_f_ptr[53], C_f_ptr[54], C_f_ptr[55]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[56], C_f_ptr[57], C_f_ptr[58], C_f_ptr[59], a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], b_frag_ptr[4], b_frag_ptr[5], C_f_ptr[56], C_f_ptr[57], C_f_ptr[58], C_f_ptr[59]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[60], C_f_ptr[61], C_f_ptr[62], C_f_ptr[63], a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], b_frag_ptr[6], b_frag_ptr[7], C_f_ptr[60], C_f_ptr[61], C_f_ptr[62], C_f_ptr[63]);
    int cse_v42 = (((((((int)threadIdx.x) & 31) >> 4) + 2) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8);
    int cse_v44 = (((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + (((((((int)threadIdx.x) & 31) >> 4) + 2) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[(((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + (((((((int)threadIdx.x) & 31) >> 4) + 2) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8))]))));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + (((((((int)threadIdx.x) & 31) >> 4) + 2) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8)) + 512)]))));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + (((((((int)threadIdx.x) & 31) >> 4) + 2) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8)) + 1024)]))));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16(a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((((((ko_p % 3) * 4096) + ((((int)threadIdx.x) >> 7) * 2048)) + ((((int)threadIdx.x) & 15) * 32)) + (((((((int)threadIdx.x) & 31) >> 4) + 2) ^ ((((int)threadIdx.x) & 7) >> 1)) * 8)) + 1536)]))));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_trans_shared_b16(b_frag_ptr[0], b_frag_ptr[1], b_frag_ptr[2], b_frag_ptr[3], tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[((((((ko_p % 3) * 4096) + ((((int)threadIdx.x) & 15) * 128)) + (((((int)threadIdx.x) & 127) >> 6) * 64)) + ((((((((int)threadIdx.x) & 63) >> 5) * 4) + ((((int)threadIdx.x) & 31) >> 4)) ^ (((int)threadIdx.x) & 7)) * 8)) + 2048)]))));
    tvm_builtin_ptx_ldmatrix_sync_aligned_m8n8_x4_trans_shared_b16(b_frag_ptr[4], b_frag_ptr[5], b_frag_ptr[6], b_frag_ptr[7], tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[((((((ko_p % 3) * 4096) + ((((int)threadIdx.x) & 15) * 128)) + (((((int)threadIdx.x) & 127) >> 6) * 64)) + ((((((((((int)threadIdx.x) & 127) >> 5) * 4) + ((((int)threadIdx.x) & 31) >> 4)) + 2) & 7) ^ (((int)threadIdx.x) & 7)) * 8)) + 2048)]))));
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[0], C_f_ptr[1], C_f_ptr[2], C_f_ptr[3], a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], b_frag_ptr[0], b_frag_ptr[1], C_f_ptr[0], C_f_ptr[1], C_f_ptr[2], C_f_ptr[3]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[4], C_f_ptr[5], C_f_ptr[6], C_f_ptr[7], a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], b_frag_ptr[2], b_frag_ptr[3], C_f_ptr[4], C_f_ptr[5], C_f_ptr[6], C_f_ptr[7]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[8], C_f_ptr[9], C_f_ptr[10], C_f_ptr[11], a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], b_frag_ptr[4], b_frag_ptr[5], C_f_ptr[8], C_f_ptr[9], C_f_ptr[10], C_f_ptr[11]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[12], C_f_ptr[13], C_f_ptr[14], C_f_ptr[15], a_frag_ptr[0], a_frag_ptr[1], a_frag_ptr[2], a_frag_ptr[3], b_frag_ptr[6], b_frag_ptr[7], C_f_ptr[12], C_f_ptr[13], C_f_ptr[14], C_f_ptr[15]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[16], C_f_ptr[17], C_f_ptr[18], C_f_ptr[19], a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], b_frag_ptr[0], b_frag_ptr[1], C_f_ptr[16], C_f_ptr[17], C_f_ptr[18], C_f_ptr[19]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[20], C_f_ptr[21], C_f_ptr[22], C_f_ptr[23], a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], b_frag_ptr[2], b_frag_ptr[3], C_f_ptr[20], C_f_ptr[21], C_f_ptr[22], C_f_ptr[23]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[24], C_f_ptr[25], C_f_ptr[26], C_f_ptr[27], a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], b_frag_ptr[4], b_frag_ptr[5], C_f_ptr[24], C_f_ptr[25], C_f_ptr[26], C_f_ptr[27]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[28], C_f_ptr[29], C_f_ptr[30], C_f_ptr[31], a_frag_ptr[4], a_frag_ptr[5], a_frag_ptr[6], a_frag_ptr[7], b_frag_ptr[6], b_frag_ptr[7], C_f_ptr[28], C_f_ptr[29], C_f_ptr[30], C_f_ptr[31]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[32], C_f_ptr[33], C_f_ptr[34], C_f_ptr[35], a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], b_frag_ptr[0], b_frag_ptr[1], C_f_ptr[32], C_f_ptr[33], C_f_ptr[34], C_f_ptr[35]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[36], C_f_ptr[37], C_f_ptr[38], C_f_ptr[39], a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], b_frag_ptr[2], b_frag_ptr[3], C_f_ptr[36], C_f_ptr[37], C_f_ptr[38], C_f_ptr[39]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[40], C_f_ptr[41], C_f_ptr[42], C_f_ptr[43], a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], b_frag_ptr[4], b_frag_ptr[5], C_f_ptr[40], C_f_ptr[41], C_f_ptr[42], C_f_ptr[43]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[44], C_f_ptr[45], C_f_ptr[46], C_f_ptr[47], a_frag_ptr[8], a_frag_ptr[9], a_frag_ptr[10], a_frag_ptr[11], b_frag_ptr[6], b_frag_ptr[7], C_f_ptr[44], C_f_ptr[45], C_f_ptr[46], C_f_ptr[47]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[48], C_f_ptr[49], C_f_ptr[50], C_f_ptr[51], a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], b_frag_ptr[0], b_frag_ptr[1], C_f_ptr[48], C_f_ptr[49], C_f_ptr[50], C_f_ptr[51]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[52], C_f_ptr[53], C_f_ptr[54], C_f_ptr[55], a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], b_frag_ptr[2], b_frag_ptr[3], C_f_ptr[52], C_f_ptr[53], C_f_ptr[54], C_f_ptr[55]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[56], C_f_ptr[57], C_f_ptr[58], C_f_ptr[59], a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], b_frag_ptr[4], b_frag_ptr[5], C_f_ptr[56], C_f_ptr[57], C_f_ptr[58], C_f_ptr[59]);
    tvm_builtin_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(C_f_ptr[60], C_f_ptr[61], C_f_ptr[62], C_f_ptr[63], a_frag_ptr[12], a_frag_ptr[13], a_frag_ptr[14], a_frag_ptr[15], b_frag_ptr[6], b_frag_ptr[7], C_f_ptr[60], C_f_ptr[61], C_f_ptr[62], C_f_ptr[63]);
  }
  tvm_builtin_ptx_cp_async_wait_group_async_wait_group_0();
  __syncthreads();
  int cse_v46 = ((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2));
  *(half2*)(C_ptr + ((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2))) = tiledsl_pack_f16x2(C_f_ptr[0], C_f_ptr[1]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 4096)) = tiledsl_pack_f16x2(C_f_ptr[2], C_f_ptr[3]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 8)) = tiledsl_pack_f16x2(C_f_ptr[4], C_f_ptr[5]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 4104)) = tiledsl_pack_f16x2(C_f_ptr[6], C_f_ptr[7]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 16)) = tiledsl_pack_f16x2(C_f_ptr[8], C_f_ptr[9]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 4112)) = tiledsl_pack_f16x2(C_f_ptr[10], C_f_ptr[11]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 24)) = tiledsl_pack_f16x2(C_f_ptr[12], C_f_ptr[13]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 4120)) = tiledsl_pack_f16x2(C_f_ptr[14], C_f_ptr[15]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 8192)) = tiledsl_pack_f16x2(C_f_ptr[16], C_f_ptr[17]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 12288)) = tiledsl_pack_f16x2(C_f_ptr[18], C_f_ptr[19]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 8200)) = tiledsl_pack_f16x2(C_f_ptr[20], C_f_ptr[21]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 12296)) = tiledsl_pack_f16x2(C_f_ptr[22], C_f_ptr[23]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 8208)) = tiledsl_pack_f16x2(C_f_ptr[24], C_f_ptr[25]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 12304)) = tiledsl_pack_f16x2(C_f_ptr[26], C_f_ptr[27]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 8216)) = tiledsl_pack_f16x2(C_f_ptr[28], C_f_ptr[29]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 12312)) = tiledsl_pack_f16x2(C_f_ptr[30], C_f_ptr[31]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 16384)) = tiledsl_pack_f16x2(C_f_ptr[32], C_f_ptr[33]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 20480)) = tiledsl_pack_f16x2(C_f_ptr[34], C_f_ptr[35]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 16392)) = tiledsl_pack_f16x2(C_f_ptr[36], C_f_ptr[37]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 20488)) = tiledsl_pack_f16x2(C_f_ptr[38], C_f_ptr[39]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 16400)) = tiledsl_pack_f16x2(C_f_ptr[40], C_f_ptr[41]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 20496)) = tiledsl_pack_f16x2(C_f_ptr[42], C_f_ptr[43]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 16408)) = tiledsl_pack_f16x2(C_f_ptr[44], C_f_ptr[45]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 20504)) = tiledsl_pack_f16x2(C_f_ptr[46], C_f_ptr[47]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 24576)) = tiledsl_pack_f16x2(C_f_ptr[48], C_f_ptr[49]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 28672)) = tiledsl_pack_f16x2(C_f_ptr[50], C_f_ptr[51]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 24584)) = tiledsl_pack_f16x2(C_f_ptr[52], C_f_ptr[53]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 28680)) = tiledsl_pack_f16x2(C_f_ptr[54], C_f_ptr[55]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 24592)) = tiledsl_pack_f16x2(C_f_ptr[56], C_f_ptr[57]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 28688)) = tiledsl_pack_f16x2(C_f_ptr[58], C_f_ptr[59]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 24600)) = tiledsl_pack_f16x2(C_f_ptr[60], C_f_ptr[61]);
  *(half2*)(C_ptr + (((((((((int)blockIdx.y) * 65536) + ((((int)threadIdx.x) >> 7) * 32768)) + (((((int)threadIdx.x) & 31) >> 2) * 512)) + (((int)blockIdx.x) * 128)) + (((((int)threadIdx.x) & 127) >> 5) * 32)) + ((((int)threadIdx.x) & 3) * 2)) + 28696)) = tiledsl_pack_f16x2(C_f_ptr[62], C_f_ptr[63]);
  (&(smem_pool_ptr[0]));
}

