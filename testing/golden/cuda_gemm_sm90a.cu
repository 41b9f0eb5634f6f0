
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
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_bulk_tensor_s2g_async_bulk_tensor_2d_global_shared__cta_bulk_group(const void* __tmap, int32_t __coords0, int32_t __coords1, uint32_t __src_mem) {
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];" :  : "l"(__tmap), "r"(__coords0), "r"(__coords1), "r"(__src_mem) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_bulk_wait_group_async_bulk_wait_group_read_1() {
  asm volatile("cp.async.bulk.wait_group.read 1;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_bulk_commit_group_async_bulk_commit_group() {
  asm volatile("cp.async.bulk.commit_group;" :  : );
}

__forceinline__ __device__ unsigned int tvm_builtin_cuda_cvta_generic_to_shared(void* p) {
    return __cvta_generic_to_shared(p);
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_bulk_tensor_g2s_cluster_async_bulk_tensor_2d_shared__cluster_global_mbarrier__complete_tx__bytes(uint32_t __dst_mem, const void* __tmap, int32_t __coords0, int32_t __coords1, uint32_t __mbar) {
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" :  : "r"(__dst_mem), "l"(__tmap), "r"(__coords0), "r"(__coords1), "r"(__mbar) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_cp_async_bulk_wait_group_async_bulk_wait_group_read_0() {
  asm volatile("cp.async.bulk.wait_group.read 0;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_mbarrier_init_init_shared_b64(uint32_t __addr, uint32_t __count) {
  asm volatile("mbarrier.init.shared.b64 [%0], %1;" :  : "r"(__addr), "r"(__count) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_fence_proxy_proxy_async_shared__cta() {
  asm volatile("fence.proxy.async.shared::cta;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_bar_sync_count_sync(uint32_t __a, uint32_t __b) {
  asm volatile("bar.sync %0, %1;" :  : "r"(__a), "r"(__b) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_mbarrier_arrive_expect_tx_arrive_expect_tx_shared_b64(uint32_t __addr, uint32_t __tx_count) {
  asm volatile("mbarrier.arrive.expect_tx.shared.b64 _, [%0], %1;" :  : "r"(__addr), "r"(__tx_count) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_wgmma_wait_group_wait_group_sync_aligned_0() {
  asm volatile("wgmma.wait_group.sync.aligned 0;" :  :  : "memory");
}

__forceinline__ __device__ void tvm_builtin_cuda_mbarrier_wait(void* barrier, int phase) {
    unsigned int barrier_addr_int = __cvta_generic_to_shared(barrier);
    unsigned int ticks = 0x989680;
    asm volatile(
        "{\n"
        ".reg .pred                P1;\n"
        "LAB_WAIT:\n"
        "mbarrier.try_wait.parity.acquire.cta.shared::cta.b64 P1, [%0], %1, %2;\n"
        "@P1                       bra.uni DONE;\n"
        "bra.uni                   LAB_WAIT;\n"
        "DONE:\n"
        "}\n"
        :: "r"(barrier_addr_int), "r"(phase), "r"(ticks) : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_setmaxnreg_inc_sync_aligned_u32_224() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 224;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_wgmma_fence_fence_sync_aligned() {
  asm volatile("wgmma.fence.sync.aligned;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_wgmma_commit_group_commit_group_sync_aligned() {
  asm volatile("wgmma.commit_group.sync.aligned;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_wgmma_f16_ss_mma_async_sync_aligned_m64n128k16_f32_f16_f16_1_1_0_1(float& __d0, float& __d1, float& __d2, float& __d3, float& __d4, float& __d5, float& __d6, float& __d7, float& __d8, float& __d9, float& __d10, float& __d11, float& __d12, float& __d13, float& __d14, float& __d15, float& __d16, float& __d17, float& __d18, float& __d19, float& __d20, float& __d21, float& __d22, float& __d23, float& __d24, float& __d25, float& __d26, float& __d27, float& __d28, float& __d29, float& __d30, float& __d31, float& __d32, float& __d33, float& __d34, float& __d35, float& __d36, float& __d37, float& __d38, float& __d39, float& __d40, float& __d41, float& __d42, float& __d43, float& __d44, float& __d45, float& __d46, float& __d47, float& __d48, float& __d49, float& __d50, float& __d51, float& __d52, float& __d53, float& __d54, float& __d55, float& __d56, float& __d57, float& __d58, float& __d59, float& __d60, float& __d61, float& __d62, float& __d63, uint64_t __a_desc, uint64_t __b_desc, uint32_t __scale_d) {
  asm volatile("{ .reg .pred ps0; setp.ne.b32 ps0, %66, 0; wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, ps0, 1, 1, 0, 1; }" : "+f"(__d0), "+f"(__d1), "+f"(__d2), "+f"(__d3), "+f"(__d4), "+f"(__d5), "+f"(__d6), "+f"(__d7), "+f"(__d8), "+f"(__d9), "+f"(__d10), "+f"(__d11), "+f"(__d12), "+f"(__d13), "+f"(__d14), "+f"(__d15), "+f"(__d16), "+f"(__d17), "+f"(__d18), "+f"(__d19), "+f"(__d20), "+f"(__d21), "+f"(__d22), "+f"(__d23), "+f"(__d24), "+f"(__d25), "+f"(__d26), "+f"(__d27), "+f"(__d28), "+f"(__d29), "+f"(__d30), "+f"(__d31), "+f"(__d32), "+f"(__d33), "+f"(__d34), "+f"(__d35), "+f"(__d36), "+f"(__d37), "+f"(__d38), "+f"(__d39), "+f"(__d40), "+f"(__d41), "+f"(__d42), "+f"(__d43), "+f"(__d44), "+f"(__d45), "+f"(__d46), "+f"(__d47), "+f"(__d48), "+f"(__d49), "+f"(__d50), "+f"(__d51), "+f"(__d52), "+f"(__d53), "+f"(__d54), "+f"(__d55), "+f"(__d56), "+f"(__d57), "+f"(__d58), "+f"(__d59), "+f"(__d60), "+f"(__d61), "+f"(__d62), "+f"(__d63) : "l"(__a_desc), "l"(__b_desc), "r"(__scale_d));
}
__forceinline__ __device__ void tvm_builtin_ptx_wgmma_wait_group_wait_group_sync_aligned_1() {
  asm volatile("wgmma.wait_group.sync.aligned 1;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_setmaxnreg_dec_sync_aligned_u32_56() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 56;" :  :  : "memory");
}
__forceinline__ __device__ void tvm_builtin_ptx_mbarrier_arrive_arrive_shared_b64(uint32_t __addr, uint32_t __count) {
  asm volatile("mbarrier.arrive.shared.b64 _, [%0], %1;" :  : "r"(__addr), "r"(__count) : "memory");
}
extern "C" __global__ void __launch_bounds__(384) kernel_kernel(const __grid_constant__ CUtensorMap A_tmap, const __grid_constant__ CUtensorMap B_tmap, const __grid_constant__ CUtensorMap C_tmap);
extern "C" __global__ void __launch_bounds__(384) kernel_kernel(const __grid_constant__ CUtensorMap A_tmap, const __grid_constant__ CUtensorMap B_tmap, const __grid_constant__ CUtensorMap C_tmap) {
  extern __shared__ __align__(64) uchar smem_pool_ptr[];
  __shared__ alignas(64) uint64_t A_s_full_ptr[3];
  __shared__ alignas(64) uint64_t A_s_empty_ptr[3];
  alignas(64) float C_f_ptr[64];
  int cse_v1 = (((int)threadIdx.x) >> 5);
  int warp_id = __shfl_sync((uint)4294967295, (((int)threadIdx.x) >> 5), 0, 32);
  int smem_pad = ((1024 - ((int)(tvm_builtin_cuda_cvta_generic_to_shared((&(smem_pool_ptr[0]))) & (uint)1023))) & 1023);
  half* A_s = ((half*)(&(smem_pool_ptr[smem_pad])));
  half* B_s = ((half*)(&(smem_pool_ptr[(smem_pad + 24576)])));
  half* C_staging0 = ((half*)(&(smem_pool_ptr[(smem_pad + 49152)])));
  half* C_staging1 = ((half*)(&(smem_pool_ptr[(smem_pad + 65536)])));
  if (((int)threadIdx.x) == 0) {
    tvm_builtin_ptx_mbarrier_init_init_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_full_ptr[0]))), (uint)1);
    tvm_builtin_ptx_mbarrier_init_init_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_empty_ptr[0]))), (uint)2);
    tvm_builtin_ptx_mbarrier_init_init_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_full_ptr[1]))), (uint)1);
    tvm_builtin_ptx_mbarrier_init_init_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_empty_ptr[1]))), (uint)2);
    tvm_builtin_ptx_mbarrier_init_init_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_full_ptr[2]))), (uint)1);
    tvm_builtin_ptx_mbarrier_init_init_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_empty_ptr[2]))), (uint)2);
    tvm_builtin_ptx_fence_proxy_proxy_async_shared__cta();
  }
  __syncthreads();
  int cse_v8 = ((((int)blockIdx.x) & 3) * 128);
  int cse_v9 = ((((int)blockIdx.x) >> 2) * 128);
  int cse_v16 = (((((int)blockIdx.x) >> 2) * 128) + 64);
  if (256 <= ((int)threadIdx.x)) {
    tvm_builtin_ptx_setmaxnreg_dec_sync_aligned_u32_56();
    if (((int)threadIdx.x) == 256) {
      for (int it = 0; it < 16; ++it) {
        int cse_v2 = (it % 3);
        if (3 <= it) {
          tvm_builtin_cuda_mbarrier_wait((&(A_s_empty_ptr[(it % 3)])), (((it / 3) + 1) & 1));
        }
        tvm_builtin_ptx_mbarrier_arrive_expect_tx_arrive_expect_tx_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_full_ptr[(it % 3)]))), (uint)16384);
        int cse_v3 = (0 ^ 0);
        int cse_v4 = (it * 32);
        int cse_v7 = ((it % 3) * 4096);
        int cse_v15 = (((it % 3) * 4096) + ((0 ^ 0) * 8));
        tvm_builtin_ptx_cp_async_bulk_tensor_g2s_cluster_async_bulk_tensor_2d_shared__cluster_global_mbarrier__complete_tx__bytes(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[(((it % 3) * 4096) + ((0 ^ 0) * 8))]))), ((void*)((unsigned long long)(&(A_tmap)))), (it * 32), ((((int)blockIdx.x) & 3) * 128), tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_full_ptr[(it % 3)]))));
        tvm_builtin_ptx_cp_async_bulk_tensor_g2s_cluster_async_bulk_tensor_2d_shared__cluster_global_mbarrier__complete_tx__bytes(tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[(((it % 3) * 4096) + ((0 ^ 0) * 8))]))), ((void*)((unsigned long long)(&(B_tmap)))), ((((int)blockIdx.x) >> 2) * 128), (it * 32), tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_full_ptr[(it % 3)]))));
        tvm_builtin_ptx_cp_async_bulk_tensor_g2s_cluster_async_bulk_tensor_2d_shared__cluster_global_mbarrier__complete_tx__bytes(tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[(((((((0 ^ 0) + 256) >> 9) * 4096) + ((it % 3) * 4096)) + (((((0 ^ 0) >> 4) + 16) & 31) * 128)) + (((0 ^ 0) & 15) * 8))]))), ((void*)((unsigned long long)(&(B_tmap)))), (((((int)blockIdx.x) >> 2) * 128) + 64), (it * 32), tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_full_ptr[(it % 3)]))));
      }
    }
  } else {
    tvm_builtin_ptx_setmaxnreg_inc_sync_aligned_u32_224();
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
    int cse_v6 = (((int)threadIdx.x) & 127);
    for (int ko_p = 0; ko_p < 16; ++ko_p) {
      int cse_v5 = (ko_p % 3);
      tvm_builtin_cuda_mbarrier_wait((&(A_s_full_ptr[(ko_p % 3)])), ((ko_p % 6) / 3));
      tvm_builtin_ptx_wgmma_fence_fence_sync_aligned();
      int cse_v10 = ((ko_p % 3) * 4096);
      uint64_t cse_v11 = (((uint64_t)2ULL << (uint64_t)62ULL) | (uint64_t)137439019008ULL);
      uint64_t cse_v12 = (((uint64_t)1ULL << (uint64_t)62ULL) | (uint64_t)274894684160ULL);
      int cse_v17 = (12288 - ((ko_p % 3) * 4096));
      uint64_t cse_v18 = ((uint64_t)((warp_id >> 2) * 256));
      tvm_builtin_ptx_wgmma_f16_ss_mma_async_sync_aligned_m64n128k16_f32_f16_f16_1_1_0_1(C_f_ptr[0], C_f_ptr[1], C_f_ptr[2], C_f_ptr[3], C_f_ptr[4], C_f_ptr[5], C_f_ptr[6], C_f_ptr[7], C_f_ptr[8], C_f_ptr[9], C_f_ptr[10], C_f_ptr[11], C_f_ptr[12], C_f_ptr[13], C_f_ptr[14], C_f_ptr[15], C_f_ptr[16], C_f_ptr[17], C_f_ptr[18], C_f_ptr[19], C_f_ptr[20], C_f_ptr[21], C_f_ptr[22], C_f_ptr[23], C_f_ptr[24], C_f_ptr[25], C_f_ptr[26], C_f_ptr[27], C_f_ptr[28], C_f_ptr[29], C_f_ptr[30], C_f_ptr[31], C_f_ptr[32], C_f_ptr[33], C_f_ptr[34], C_f_ptr[35], C_f_ptr[36], C_f_ptr[37], C_f_ptr[38], C_f_ptr[39], C_f_ptr[40], C_f_ptr[41], C_f_ptr[42], C_f_ptr[43], C_f_ptr[44], C_f_ptr[45], C_f_ptr[46], C_f_ptr[47], C_f_ptr[48], C_f_ptr[49], C_f_ptr[50], C_f_ptr[51], C_f_ptr[52], C_f_ptr[53], C_f_ptr[54], C_f_ptr[55], C_f_ptr[56], C_f_ptr[57], C_f_ptr[58], C_f_ptr[59], C_f_ptr[60], C_f_ptr[61], C_f_ptr[62], C_f_ptr[63], ((((uint64_t)((tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((ko_p % 3) * 4096)]))) >> (uint)4) & (uint)16383)) | (((uint64_t)2ULL << (uint64_t)62ULL) | (uint64_t)137439019008ULL)) + ((uint64_t)((warp_id >> 2) * 256))), (((uint64_t)((tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[((ko_p % 3) * 4096)]))) >> (uint)4) & (uint)16383)) | (((uint64_t)1ULL << (uint64_t)62ULL) | (uint64_t)274894684160ULL)), (bool)1);
      tvm_builtin_ptx_wgmma_f16_ss_mma_async_sync_aligned_m64n128k16_f32_f16_f16_1_1_0_1(C_f_ptr[0], C_f_ptr[1], C_f_ptr[2], C_f_ptr[3], C_f_ptr[4], C_f_ptr[5], C_f_ptr[6], C_f_ptr[7], C_f_ptr[8], C_f_ptr[9], C_f_ptr[10], C_f_ptr[11], C_f_ptr[12], C_f_ptr[13], C_f_ptr[14], C_f_ptr[15], C_f_ptr[16], C_f_ptr[17], C_f_ptr[18], C_f_ptr[19], C_f_ptr[20], C_f_ptr[21], C_f_ptr[22], C_f_ptr[23], C_f_ptr[24], C_f_ptr[25], C_f_ptr[26], C_f_ptr[27], C_f_ptr[28], C_f_ptr[29], C_f_ptr[30], C_f_ptr[31], C_f_ptr[32], C_f_ptr[33], C_f_ptr[34], C_f_ptr[35], C_f_ptr[36], C_f_ptr[37], C_f_ptr[38], C_f_ptr[39], C_f_ptr[40], C_f_ptr[41], C_f_ptr[42], C_f_ptr[43], C_f_ptr[44], C_f_ptr[45], C_f_ptr[46], C_f_ptr[47], C_f_ptr[48], C_f_ptr[49], C_f_ptr[50], C_f_ptr[51], C_f_ptr[52], C_f_ptr[53], C_f_ptr[54], C_f_ptr[55], C_f_ptr[56], C_f_ptr[57], C_f_ptr[58], C_f_ptr[59], C_f_ptr[60], C_f_ptr[61], C_f_ptr[62], C_f_ptr[63], (((((uint64_t)((tvm_builtin_cuda_cvta_generic_to_shared((&(A_s[((ko_p % 3) * 4096)]))) >> (uint)4) & (uint)16383)) | (((uint64_t)2ULL << (uint64_t)62ULL) | (uint64_t)137439019008ULL)) + ((uint64_t)((warp_id >> 2) * 256))) + (uint64_t)2ULL), ((((uint64_t)((tvm_builtin_cuda_cvta_generic_to_shared((&(B_s[((ko_p % 3) * 4096)]))) >> (uint)4) & (uint)16383)) | (((uint64_t)1ULL << (uint64_t)62ULL) | (uint64_t)274894684160ULL)) + (uint64_t)128ULL), (bool)1);
      tvm_builtin_ptx_wgmma_commit_group_commit_group_sync_aligned();
      tvm_builtin_ptx_wgmma_wait_group_wait_group_sync_aligned_1();
      if ((0 < ko_p) && ((((int)threadIdx.x) % 128) == 0)) {
        tvm_builtin_ptx_mbarrier_arrive_arrive_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_empty_ptr[((ko_p + 2) % 3)]))), (uint)1);
      }
    }
    tvm_builtin_ptx_wgmma_wait_group_wait_group_sync_aligned_0();
    if ((((int)threadIdx.x) % 128) == 0) {
      tvm_builtin_ptx_mbarrier_arrive_arrive_shared_b64(tvm_builtin_cuda_cvta_generic_to_shared((&(A_s_empty_ptr[0]))), (uint)1);
    }
    if (((int)threadIdx.x) == 0) {
      tvm_builtin_ptx_cp_async_bulk_wait_group_async_bulk_wait_group_read_1();
    }
    tvm_builtin_ptx_bar_sync_count_sync((uint)1, (uint)256);
    int cse_v13 = ((((int)threadIdx.x) & 31) >> 2);
    int cse_v14 = ((((int)threadIdx.x) & 3) * 2);
    int cse_v19 = (((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64));
    int cse_v20 = (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((0 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2));
    half2 __1;
    float2 v_ = *(float2*)(C_f_ptr + 0);
    __1.x = (half)(v_.x);
    __1.y = (half)(v_.y);
    *(half2*)(C_staging0 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((0 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __1;
    int cse_v28 = ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((0 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512);
    half2 __2;
    float2 v__1 = *(float2*)(C_f_ptr + 2);
    __2.x = (half)(v__1.x);
    __2.y = (half)(v__1.y);
    *(half2*)(C_staging0 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((0 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __2;
    int cse_v21 = (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((1 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2));
    half2 __3;
    float2 v__2 = *(float2*)(C_f_ptr + 4);
    __3.x = (half)(v__2.x);
    __3.y = (half)(v__2.y);
    *(half2*)(C_staging0 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((1 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __3;
    int cse_v29 = ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((1 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512);
    half2 __4;
    float2 v__3 = *(float2*)(C_f_ptr + 6);
    __4.x = (half)(v__3.x);
    __4.y = (half)(v__3.y);
    *(half2*)(C_staging0 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((1 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __4;
    int cse_v22 = (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((2 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2));
    half2 __5;
    float2 v__4 = *(float2*)(C_f_ptr + 8);
    __5.x = (half)(v__4.x);
    __5.y = (half)(v__4.y);
    *(half2*)(C_staging0 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((2 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __5;
    int cse_v30 = ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((2 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512);
    half2 __6;
    float2 v__5 = *(float2*)(C_f_ptr + 10);
    __6.x = (half)(v__5.x);
    __6.y = (half)(v__5.y);
    *(half2*)(C_staging0 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((2 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __6;
    int cse_v23 = (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((3 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2));
    half2 __7;
    float2 v__6 = *(float2*)(C_f_ptr + 12);
    __7.x = (half)(v__6.x);
    __7.y = (half)(v__6.y);
    *(half2*)(C_staging0 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((3 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __7;
    int cse_v31 = ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((3 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512);
    half2 __8;
    float2 v__7 = *(float2*)(C_f_ptr + 14);
    __8.x = (half)(v__7.x);
    __8.y = (half)(v__7.y);
    *(half2*)(C_staging0 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((3 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __8;
    int cse_v24 = (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((4 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2));
    half2 __9;
    float2 v__8 = *(float2*)(C_f_ptr + 16);
    __9.x = (half)(v__8.x);
    __9.y = (half)(v__8.y);
    *(half2*)(C_staging0 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((4 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __9;
    int cse_v32 = ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((4 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512);
    half2 __10;
    float2 v__9 = *(float2*)(C_f_ptr + 18);
    __10.x = (half)(v__9.x);
    __10.y = (half)(v__9.y);
    *(half2*)(C_staging0 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((4 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __10;
    int cse_v25 = (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((5 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2));
    half2 __11;
    float2 v__10 = *(float2*)(C_f_ptr + 20);
    __11.x = (half)(v__10.x);
    __11.y = (half)(v__10.y);
    *(half2*)(C_staging0 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((5 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __11;
    int cse_v33 = ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((5 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512);
    half2 __12;
    float2 v__11 = *(float2*)(C_f_ptr + 22);
    __12.x = (half)(v__11.x);
    __12.y = (half)(v__11.y);
    *(half2*)(C_staging0 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((5 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __12;
    int cse_v26 = (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((6 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2));
    half2 __13;
    float2 v__12 = *(float2*)(C_f_ptr + 24);
    __13.x = (half)(v__12.x);
    __13.y = (half)(v__12.y);
    *(half2*)(C_staging0 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((6 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __13;
    int cse_v34 = ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((6 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512);
    half2 __14;
    float2 v__13 = *(float2*)(C_f_ptr + 26);
    __14.x = (half)(v__13.x);
    __14.y = (half)(v__13.y);
    *(half2*)(C_staging0 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((6 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __14;
    int cse_v27 = (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((7 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2));
    half2 __15;
    float2 v__14 = *(float2*)(C_f_ptr + 28);
    __15.x = (half)(v__14.x);
    __15.y = (half)(v__14.y);
    *(half2*)(C_staging0 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((7 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __15;
    int cse_v35 = ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((7 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512);
    half2 __16;
    float2 v__15 = *(float2*)(C_f_ptr + 30);
    __16.x = (half)(v__15.x);
    __16.y = (half)(v__15.y);
    *(half2*)(C_staging0 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((7 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __16;
    tvm_builtin_ptx_fence_proxy_proxy_async_shared__cta();
    tvm_builtin_ptx_bar_sync_count_sync((uint)1, (uint)256);
    if (((int)threadIdx.x) == 0) {
      tvm_builtin_ptx_cp_async_bulk_tensor_s2g_async_bulk_tensor_2d_global_shared__cta_bulk_group(((void*)((unsigned long long)(&(C_tmap)))), ((((int)blockIdx.x) >> 2) * 128), ((((int)blockIdx.x) & 3) * 128), tvm_builtin_cuda_cvta_generic_to_shared((&(C_staging0[0]))));
      tvm_builtin_ptx_cp_async_bulk_commit_group_async_bulk_commit_group();
    }
    if (((int)threadIdx.x) == 0) {
      tvm_builtin_ptx_cp_async_bulk_wait_group_async_bulk_wait_group_read_1();
    }
    tvm_builtin_ptx_bar_sync_count_sync((uint)1, (uint)256);
    half2 __17;
    float2 v__16 = *(float2*)(C_f_ptr + 32);
    __17.x = (half)(v__16.x);
    __17.y = (half)(v__16.y);
    *(half2*)(C_staging1 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((0 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __17;
    half2 __18;
    float2 v__17 = *(float2*)(C_f_ptr + 34);
    __18.x = (half)(v__17.x);
    __18.y = (half)(v__17.y);
    *(half2*)(C_staging1 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((0 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __18;
    half2 __19;
    float2 v__18 = *(float2*)(C_f_ptr + 36);
    __19.x = (half)(v__18.x);
    __19.y = (half)(v__18.y);
    *(half2*)(C_staging1 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((1 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __19;
    half2 __20;
    float2 v__19 = *(float2*)(C_f_ptr + 38);
    __20.x = (half)(v__19.x);
    __20.y = (half)(v__19.y);
    *(half2*)(C_staging1 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((1 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __20;
    half2 __21;
    float2 v__20 = *(float2*)(C_f_ptr + 40);
    __21.x = (half)(v__20.x);
    __21.y = (half)(v__20.y);
    *(half2*)(C_staging1 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((2 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __21;
    half2 __22;
    float2 v__21 = *(float2*)(C_f_ptr + 42);
    __22.x = (half)(v__21.x);
    __22.y = (half)(v__21.y);
    *(half2*)(C_staging1 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((2 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __22;
    half2 __23;
    float2 v__22 = *(float2*)(C_f_ptr + 44);
    __23.x = (half)(v__22.x);
    __23.y = (half)(v__22.y);
    *(half2*)(C_staging1 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((3 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __23;
    half2 __24;
    float2 v__23 = *(float2*)(C_f_ptr + 46);
    __24.x = (half)(v__23.x);
    __24.y = (half)(v__23.y);
    *(half2*)(C_staging1 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((3 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __24;
    half2 __25;
    float2 v__24 = *(float2*)(C_f_ptr + 48);
    __25.x = (half)(v__24.x);
    __25.y = (half)(v__24.y);
    *(half2*)(C_staging1 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((4 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __25;
    half2 __26;
    float2 v__25 = *(float2*)(C_f_ptr + 50);
    __26.x = (half)(v__25.x);
    __26.y = (half)(v__25.y);
    *(half2*)(C_staging1 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((4 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __26;
    half2 __27;
    float2 v__26 = *(float2*)(C_f_ptr + 52);
    __27.x = (half)(v__26.x);
    __27.y = (half)(v__26.y);
    *(half2*)(C_staging1 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((5 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __27;
    half2 __28;
    float2 v__27 = *(float2*)(C_f_ptr + 54);
    __28.x = (half)(v__27.x);
    __28.y = (half)(v__27.y);
    *(half2*)(C_staging1 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((5 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __28;
    half2 __29;
    float2 v__28 = *(float2*)(C_f_ptr + 56);
    __29.x = (half)(v__28.x);
    __29.y = (half)(v__28.y);
    *(half2*)(C_staging1 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((6 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __29;
    half2 __30;
    float2 v__29 = *(float2*)(C_f_ptr + 58);
    __30.x = (half)(v__29.x);
    __30.y = (half)(v__29.y);
    *(half2*)(C_staging1 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((6 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __30;
    half2 __31;
    float2 v__30 = *(float2*)(C_f_ptr + 60);
    __31.x = (half)(v__30.x);
    __31.y = (half)(v__30.y);
    *(half2*)(C_staging1 + (((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((7 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2))) = __31;
    half2 __32;
    float2 v__31 = *(float2*)(C_f_ptr + 62);
    __32.x = (half)(v__31.x);
    __32.y = (half)(v__31.y);
    *(half2*)(C_staging1 + ((((((((int)threadIdx.x) >> 5) * 1024) + (((((int)threadIdx.x) & 31) >> 2) * 64)) + ((7 ^ ((((int)threadIdx.x) & 31) >> 2)) * 8)) + ((((int)threadIdx.x) & 3) * 2)) + 512)) = __32;
    tvm_builtin_ptx_fence_proxy_proxy_async_shared__cta();
    tvm_builtin_ptx_bar_sync_count_sync((uint)1, (uint)256);
    if (((int)threadIdx.x) == 0) {
      tvm_builtin_ptx_cp_async_bulk_tensor_s2g_async_bulk_tensor_2d_global_shared__cta_bulk_group(((void*)((unsigned long long)(&(C_tmap)))), (((((int)blockIdx.x) >> 2) * 128) + 64), ((((int)blockIdx.x) & 3) * 128), tvm_builtin_cuda_cvta_generic_to_shared((&(C_staging1[0]))));
      tvm_builtin_ptx_cp_async_bulk_commit_group_async_bulk_commit_group();
    }
    if (((int)threadIdx.x) == 0) {
      tvm_builtin_ptx_cp_async_bulk_wait_group_async_bulk_wait_group_read_0();
    }
    (&(smem_pool_ptr[0]));
  }
}

