// The CPU's measured f32 FMA peak (for BENCHMARKS.md's GFLOP/s figures): 12 independent
// AVX-512 FMA chains per thread, on one core, then on two at once.
// Build and run: gcc -O2 -mavx512f -o /tmp/fma_peak benches/fma_peak.c -lpthread && /tmp/fma_peak
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>
static double run(void){
  __m512 a0=_mm512_set1_ps(1.0f),a1=_mm512_set1_ps(1.1f),a2=_mm512_set1_ps(1.2f),a3=_mm512_set1_ps(1.3f),a4=_mm512_set1_ps(1.4f),a5=_mm512_set1_ps(1.5f),a6=_mm512_set1_ps(1.6f),a7=_mm512_set1_ps(1.7f),a8=_mm512_set1_ps(1.8f),a9=_mm512_set1_ps(1.9f),a10=_mm512_set1_ps(2.0f),a11=_mm512_set1_ps(2.1f);
  __m512 a=_mm512_set1_ps(0.999999f), b=_mm512_set1_ps(1e-7f);
  long iters=300000000;
  struct timespec t0,t1; clock_gettime(CLOCK_MONOTONIC,&t0);
  for(long k=0;k<iters;k++){
#define F(x) x=_mm512_fmadd_ps(x,a,b);
    F(a0)F(a1)F(a2)F(a3)F(a4)F(a5)F(a6)F(a7)F(a8)F(a9)F(a10)F(a11)
    __asm__ volatile("" : "+v"(a0),"+v"(a1),"+v"(a2),"+v"(a3),"+v"(a4),"+v"(a5),"+v"(a6),"+v"(a7),"+v"(a8),"+v"(a9),"+v"(a10),"+v"(a11));
  }
  clock_gettime(CLOCK_MONOTONIC,&t1);
  __m512 s=_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0,a1),_mm512_add_ps(a2,a3)),_mm512_add_ps(_mm512_add_ps(a4,a5),_mm512_add_ps(a6,a7)));
  s=_mm512_add_ps(s,_mm512_add_ps(_mm512_add_ps(a8,a9),_mm512_add_ps(a10,a11)));
  if(_mm512_reduce_add_ps(s)==12345.f) printf("x");
  double dt=(t1.tv_sec-t0.tv_sec)+(t1.tv_nsec-t0.tv_nsec)*1e-9;
  return (double)iters*12*16*2/dt/1e9;
}
static void* th(void*p){ *(double*)p=run(); return 0; }
int main(){ double r1=run(); printf("1 core: %.1f GFLOP/s\n", r1);
  pthread_t t[2]; double r[2]; for(int i=0;i<2;i++) pthread_create(&t[i],0,th,&r[i]); for(int i=0;i<2;i++) pthread_join(t[i],0);
  printf("2 cores: %.1f + %.1f = %.1f GFLOP/s\n", r[0], r[1], r[0]+r[1]); }
