// Debian's OpenBLAS (libopenblas-dev) and LAPACKE (liblapacke-dev) for dense linear algebra.
#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
#if __has_include(<x86_64-linux-gnu/cblas.h>)
#include <x86_64-linux-gnu/cblas.h>
#elif __has_include(<aarch64-linux-gnu/cblas.h>)
#include <aarch64-linux-gnu/cblas.h>
#else
#include <cblas.h>
#endif
#include <lapacke.h>
#endif
